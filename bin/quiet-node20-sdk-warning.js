// The AWS SDK warns once per process that releases after January 2027 need Node 22. The bridge
// pins its SDK versions and deploys on Node 22; on a Node 20 dev machine the notice is noise in
// every CLI run, so only that one warning is dropped. All other warnings still print.
const emit = process.emitWarning.bind(process);
process.emitWarning = (warning, ...rest) => {
  const text = typeof warning === 'string' ? warning : warning?.message;
  if (typeof text === 'string' && text.startsWith('NodeVersionSupportWarning')) return;
  emit(warning, ...rest);
};
