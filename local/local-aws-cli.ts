import { startLocalAws } from './local-aws.js';

// Foreground helper for trying the bridge locally: starts moto + kinesalite, prints the
// environment to use, and stops both on Ctrl-C.
const aws = await startLocalAws();
console.log('Local AWS stand-ins are running. In another shell:\n');
for (const [key, value] of Object.entries(aws.env)) console.log(`export ${key}=${value}`);
console.log('\nPress Ctrl-C to stop them.');
const stop = () => {
  aws.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
