// A random UUID (version 4) for client_id, the report's idempotency key.
function uuid4() {
  const bytes = []
  for (let i = 0; i < 16; i += 1) bytes.push(Math.floor(Math.random() * 256))
  bytes[6] = (bytes[6] & 0x0f) | 0x40
  bytes[8] = (bytes[8] & 0x3f) | 0x80
  const hex = bytes.map((b) => b.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

// "2026-11-20" + "10:30" (China Standard Time) -> "2026-11-20T10:30:00+08:00".
function cst(date, time) {
  return date && time ? `${date}T${time}:00+08:00` : null
}

// Now as picker values in China Standard Time.
function nowCst(ms) {
  const d = new Date(ms + 8 * 3600 * 1000)
  const iso = d.toISOString()
  return { date: iso.slice(0, 10), time: iso.slice(11, 16) }
}

// An ISO time from the server, shown as "2026-11-20 10:30" in China Standard Time.
function showTime(iso) {
  if (!iso) return ''
  const ms = Date.parse(iso)
  if (Number.isNaN(ms)) return iso
  const { date, time } = nowCst(ms)
  return `${date} ${time}`
}

module.exports = { uuid4, cst, nowCst, showTime }
