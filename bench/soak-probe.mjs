// Preloaded into the sample by bench/soak.mjs (`node --expose-gc --import ./bench/soak-probe.mjs`):
// answers 'memory' on the IPC channel with the heap left after a full collection, so the soak can
// follow memory over time without the app having an endpoint for it.
process.on('message', (message) => {
  if (message !== 'memory') return;
  globalThis.gc();
  process.send({ at: Date.now(), ...process.memoryUsage() });
});
// The channel must not keep the app alive once Nest has closed on SIGTERM.
process.channel?.unref();
