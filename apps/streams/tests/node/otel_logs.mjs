// The OpenTelemetry JS logs SDK with its OTLP/HTTP exporter (OTLP JSON; Node's http module
// pipes the body, so it goes chunked with no Content-Length) sending two records, the first in
// a span's context, to BASE/ingest/otlp/v1/logs. Env: BASE, TOKEN, MARK, TRACE_ID, SPAN_ID.
import { context, trace, TraceFlags, SeverityNumber } from '@opentelemetry/api'
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs'

const { BASE, TOKEN, MARK, TRACE_ID, SPAN_ID } = process.env
const exporter = new OTLPLogExporter({
  url: `${BASE}/ingest/otlp/v1/logs`,
  headers: { Authorization: `Bearer ${TOKEN}` },
})
const results = []
const export_ = exporter.export.bind(exporter)
exporter.export = (records, done) => export_(records, (result) => { results.push(result); done(result) })
const provider = new LoggerProvider({
  resource: resourceFromAttributes({ 'service.name': 'search-api' }),
  processors: [new BatchLogRecordProcessor({ exporter })],
})
const logger = provider.getLogger('tests')
const span = trace.wrapSpanContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED })
logger.emit({
  severityNumber: SeverityNumber.ERROR,
  severityText: 'ERROR',
  body: `index shard unavailable ${MARK}`,
  attributes: { 'shard.id': 7, 'index.name': 'products' },
  context: trace.setSpan(context.active(), span),
})
logger.emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: `query served ${MARK}` })
await provider.forceFlush()
await provider.shutdown()
const failed = results.filter((r) => r.code !== 0).map((r) => String(r.error))
console.log(JSON.stringify({ exports: results.length, failed }))
process.exit(failed.length || results.length === 0 ? 1 : 0)
