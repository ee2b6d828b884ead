// The receipt: the 查询号 and what happens next, and the request for status messages
// (wx.requestSubscribeMessage with the office's template, then /api/v1/subscriptions).
const client = require('../../api/client')
const config = require('../../config')

Component({
  data: { id: '', trackingNo: '', training: false, subscribed: false, subscribeMessage: '' },

  methods: {
    onLoad(options = {}) {
      this.setData({ id: options.id || '', trackingNo: decodeURIComponent(options.tracking_no || ''),
        training: options.training === '1' })
    },

    subscribe() {
      const templateId = config.statusTemplateId
      return new Promise((resolve) => {
        wx.requestSubscribeMessage({
          tmplIds: [templateId],
          success: async (res) => {
            if (res[templateId] !== 'accept') {
              this.setData({ subscribeMessage: '您没有开启办理进度提醒。可以随时在「我的报告」查看进度。' })
              resolve()
              return
            }
            try {
              await client.call('subscribe', { data: { template_ids: [templateId] } })
              this.setData({ subscribed: true, subscribeMessage: '已开启提醒：报告状态变化时，微信会通知您。' })
            } catch (error) {
              this.setData({ subscribeMessage: error.message })
            }
            resolve()
          },
          fail: () => {
            this.setData({ subscribeMessage: '暂时无法开启提醒。可以随时在「我的报告」查看进度。' })
            resolve()
          },
        })
      })
    },

    toDetail() {
      wx.redirectTo({ url: `/pages/report/detail?id=${this.data.id}` })
    },

    toList() {
      wx.redirectTo({ url: '/pages/reports/index' })
    },
  },
})
