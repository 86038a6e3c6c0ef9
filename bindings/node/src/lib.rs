//! Node binding (stub until its issue lands).
