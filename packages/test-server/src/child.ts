/**
 * The child side of `startProcess`: starts the server and answers the
 * parent's questions over the IPC channel; exits when the channel closes.
 *
 * @internal
 */
import { start } from "./index.js"
import type { Answer, Question } from "./process.js"

const send = (answer: Answer) => process.send!(answer)
const server = await start()
process.on("message", (question: Question) => {
  if (question.type === "reset") server.resetStats()
  send(question.type === "stats" ? { type: "answer", id: question.id, stats: server.stats } : { type: "answer", id: question.id })
})
process.on("disconnect", () => {
  void server.close().then(() => process.exit(0))
})
send({ type: "ready", url: server.url, otherUrl: server.otherUrl })
