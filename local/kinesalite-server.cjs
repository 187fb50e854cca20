// kinesalite's own CLI cannot bind to loopback only; this starts it on 127.0.0.1:<port>.
// kinesalite loads its actions when it is first required: replace the one it gets wrong first.
const action = require.resolve('kinesalite/actions/getShardIterator');
require(action);
require.cache[action].exports = require('./kinesalite-at-timestamp.cjs')(require(action));
const kinesalite = require('kinesalite');

const port = Number(process.argv[2] || 4567);
const server = kinesalite({
  createStreamMs: 0,
  deleteStreamMs: 0,
  updateStreamMs: 0,
  // An emulated account limit; the test suite creates a stream per test file and keeps them.
  shardLimit: 10_000,
});
server.listen(port, '127.0.0.1', () =>
  process.stdout.write(`kinesalite listening on 127.0.0.1:${port}\n`),
);
// Exit with the parent: its end of our stdin closes when it dies, however it dies.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => server.close(() => process.exit(0)));
