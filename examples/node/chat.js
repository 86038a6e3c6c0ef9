'use strict';
// aigw from Node: load the demo config, show the operator-visible route (where traffic goes and
// which credential is used — its source, never its value), then stream an answer.
//
//   AIGW_DEMO_CONFIG=aigw.toml node chat.js ["your question"]

const aigw = require('aigw');

async function main() {
  const config = process.env.AIGW_DEMO_CONFIG;
  if (!config) {
    console.error('set AIGW_DEMO_CONFIG to an aigw config file (TOML or JSON)');
    return 2;
  }
  const question = process.argv.slice(2).join(' ') || 'Hello from the aigw Node example';
  let client;
  try {
    client = aigw.Client.fromConfig(config);
  } catch (err) {
    console.error(`config error: ${err.code}: ${err.message}`);
    return 2;
  }

  const described = client.describe();
  const { route, credentials } = described;
  console.log(`aigw ${aigw.version} (Node ${process.version})`);
  console.log(`  kind              ${described.kind}`);
  console.log(`  request endpoint  ${route.request_endpoint}`);
  console.log(`  account id        ${route.account_id}`);
  console.log(`  gateway name      ${route.gateway_name}`);
  console.log(`  credential source ${credentials.source ?? credentials.message}`);
  console.log(`  model             ${described.model.model ?? 'auto'}`);
  if (route.hint) console.log(`  hint              ${route.hint}`);

  console.log(`\n> ${question}`);
  const stream = client.chatStream({ messages: [{ role: 'user', content: question }] });
  try {
    for await (const chunk of stream) {
      for (const choice of chunk.choices ?? []) {
        const text = (choice.delta ?? choice.message ?? {}).content;
        if (text) process.stdout.write(text);
      }
    }
  } catch (err) {
    console.error(`\nrequest failed: ${err.code}: ${err.message}`);
    return 1;
  }
  const { meta } = stream;
  console.log(`\n[status ${meta.status}, model ${meta.model}, cf-aig-log-id ${meta.cf_aig_log_id}, request id ${meta.request_id}]`);
  return 0;
}

main().then((code) => {
  process.exitCode = code;
});
