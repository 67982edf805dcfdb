// Loaded into a bench's child node with `--expose-gc --import <this file>`. It changes nothing in the node;
// on SIGUSR2 it runs three full GCs and prints one line the bench waits for, so RSS is read after a GC:
//   BENCH_MEM {"rss":…,"heapUsed":…,"external":…,"arrayBuffers":…}
process.on('SIGUSR2', () => {
  for (let i = 0; i < 3; i++) globalThis.gc?.();
  process.stdout.write(`BENCH_MEM ${JSON.stringify(process.memoryUsage())}\n`);
});
