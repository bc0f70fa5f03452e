// The raw-client baseline's loop, shared by the benchmarks: `concurrency` loops call `one` until it has run
// `n` times in all; `one` resolves when a response body is parsed.
export const pool = (concurrency, n, one) => {
  let next = 0
  const loop = async () => {
    while (next++ < n) await one()
  }
  return Promise.all(Array.from({ length: concurrency }, loop))
}
