//! Python binding (stub until its issue lands).
