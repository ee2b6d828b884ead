// A unit's training QR code (getwxacodeunlimit with this page and the unit's code as scene): the practice form.
Component({
  methods: {
    onLoad(options = {}) {
      const scene = options.scene ? `&scene=${encodeURIComponent(decodeURIComponent(options.scene))}` : ''
      wx.redirectTo({ url: `/pages/report/index?training=1${scene}` })
    },
  },
})
