// The report being typed, kept on the phone (wx.setStorage) as it is typed: restored after the mini-program is
// killed or the network is lost, discarded after 24 hours, removed once the server has the report.
const config = require('../config')
const clock = require('../api/client').clock

const KEY = 'qzbg.draft'
const keyFor = (training) => (training ? `${KEY}.training` : KEY)

function save(training, draft) {
  wx.setStorage({ key: keyFor(training), data: { ...draft, savedAt: clock.now() } })
}

// { draft } when one is kept and fresh; { expired: true } when one was too old (and is now gone); {} otherwise.
function restore(training) {
  const kept = wx.getStorageSync(keyFor(training))
  if (!kept || !kept.savedAt) return {}
  if (clock.now() - kept.savedAt > config.draftMaxAgeMs) {
    clear(training)
    return { expired: true }
  }
  return { draft: kept }
}

function clear(training) {
  wx.removeStorageSync(keyFor(training))
}

module.exports = { save, restore, clear, KEY, keyFor }
