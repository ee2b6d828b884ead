// 我的报告: the reporter's own reports, newest first, each with its status; more on request.
const client = require('../../api/client')
const { showTime } = require('../../utils/ids')

Component({
  data: { items: [], nextCursor: null, loading: true, message: '' },

  methods: {
    onLoad() {
      return this.load(null)
    },

    onPullDownRefresh() {
      return this.load(null).then(() => wx.stopPullDownRefresh())
    },

    async load(cursor) {
      this.setData({ loading: true, message: '' })
      try {
        const page = await client.call('listReports', { query: { cursor, limit: 20 } })
        const items = page.items.map((r) => ({ ...r, submittedText: showTime(r.submitted_at), updatedText: showTime(r.updated_at) }))
        this.setData({ items: cursor ? this.data.items.concat(items) : items, nextCursor: page.next_cursor })
      } catch (error) {
        this.setData({ message: error.message })
      }
      this.setData({ loading: false })
    },

    more() {
      return this.load(this.data.nextCursor)
    },

    open(event) {
      wx.navigateTo({ url: `/pages/report/detail?id=${event.currentTarget.dataset.id}` })
    },

    newReport() {
      wx.navigateTo({ url: '/pages/report/index' })
    },
  },
})
