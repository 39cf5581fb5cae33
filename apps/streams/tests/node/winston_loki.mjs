// winston with winston-loki (protobuf + snappy) sending three records to BASE/ingest/loki.
// Env: BASE, TOKEN, MARK, TRACE_ID. Exits 1 if the transport reported any error.
import winston from 'winston'
import LokiTransport from 'winston-loki'

const { BASE, TOKEN, MARK, TRACE_ID } = process.env
const errors = []
const transport = new LokiTransport({
  host: `${BASE}/ingest`, // the transport appends /loki/api/v1/push
  basicAuth: `shipper:${TOKEN}`,
  labels: { service_name: 'storefront' },
  json: false, // protobuf + snappy, its default when snappy loads
  interval: 1, // seconds between batches: the three records go in one
  onConnectionError: (err) => errors.push(String(err)),
})
const logger = winston.createLogger({ level: 'debug', transports: [transport] })
logger.error(`cart checkout failed ${MARK}`, { labels: { trace_id: TRACE_ID } })
logger.warn(`slow price lookup ${MARK}`, { labels: { trace_id: TRACE_ID } })
logger.debug(`render done ${MARK}`)
await transport.flush()
await transport.close()
console.log(JSON.stringify({ contentType: transport.batcher.contentType, errors }))
process.exit(errors.length ? 1 : 0)
