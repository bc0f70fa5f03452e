/**
 * What loamy's tests share, in one place (never published): bounded waits,
 * free ports and servers of a test's own, fixtures in processes of their own,
 * and the hostile server. The heavier parts have entries of their own so a
 * test loads only what it uses: `@loamy/test-kit/cli` (the built CLI run as
 * a process), `/doors` (one adapter per door), `/proxy` (a forwarding proxy,
 * an https server), `/services` (Postgres, Redis) and `/dns-guard` (the
 * guard every project's setup installs, and the names it refused).
 *
 * @since 1.1.0
 */
export * from "./forked.js"
export * from "./hostile.js"
export * from "./origins.js"
export * from "./ports.js"
export * from "./ranges.js"
export * from "./wait.js"
