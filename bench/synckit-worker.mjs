// synckit's worker for the latency comparison: one undici GET per call.
import { runAsWorker } from "synckit"
import { Agent, request } from "undici"

const dispatcher = new Agent()
runAsWorker(async (url) => (await request(url, { dispatcher })).body.json())
