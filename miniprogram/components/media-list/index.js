// Up to nine photos or videos: chosen with wx.chooseMedia, uploaded one after another with wx.uploadFile, each
// with its progress and a retry. The page owns the list (``media``) and hears every change ("change").
const client = require('../../api/client')
const config = require('../../config')

const STATE_LABELS = { waiting: '待上传', uploading: '上传中', done: '已上传', failed: '上传失败' }

function label(item) {
  const kind = item.type === 'video' ? '视频' : '照片'
  return `${kind}（${Math.max(1, Math.round((item.size || 0) / 1024))} KB）`
}

Component({
  properties: {
    media: { type: Array, value: [] },
    max: { type: Number, value: config.maxMedia },
    disabled: { type: Boolean, value: false },
  },

  data: { items: [] },

  observers: {
    media(media) {
      this.setData({ items: media.map((m) => ({ ...m, label: label(m), stateLabel: STATE_LABELS[m.state || 'waiting'] })) })
    },
  },

  methods: {
    emit(media) {
      this.setData({ media })
      this.triggerEvent('change', { media })
    },

    choose() {
      const room = this.data.max - this.data.media.length
      if (room <= 0) return
      wx.chooseMedia({
        count: room,
        mediaType: ['image', 'video'],
        sourceType: ['album', 'camera'],
        success: (res) => {
          const added = res.tempFiles.slice(0, room).map((f) => ({
            path: f.tempFilePath, type: f.fileType === 'video' ? 'video' : 'image', size: f.size, state: 'waiting', progress: 0,
          }))
          this.emit(this.data.media.concat(added))
        },
      })
    },

    remove(event) {
      const index = Number(event.currentTarget.dataset.index)
      this.emit(this.data.media.filter((_, i) => i !== index))
    },

    update(index, change) {
      const media = this.data.media.slice()
      media[index] = { ...media[index], ...change }
      this.emit(media)
    },

    async uploadOne(reportId, index) {
      this.update(index, { state: 'uploading', progress: 0, error: '' })
      try {
        const stored = await client.upload(reportId, this.data.media[index].path, {
          onProgress: (progress) => this.update(index, { progress }),
        })
        this.update(index, { state: 'done', progress: 100, attachmentId: stored.id })
        return true
      } catch (error) {
        this.update(index, { state: 'failed', error: error.message })
        return false
      }
    },

    // Uploads every file not yet stored; resolves to how many failed.
    async uploadAll(reportId) {
      this.reportId = reportId
      let failed = 0
      for (let i = 0; i < this.data.media.length; i += 1) {
        if (this.data.media[i].state !== 'done' && !(await this.uploadOne(reportId, i))) failed += 1
      }
      return failed
    },

    async retry(event) {
      const index = Number(event.currentTarget.dataset.index)
      if (!this.reportId) return
      await this.uploadOne(this.reportId, index)
      const failed = this.data.media.filter((m) => m.state !== 'done').length
      this.triggerEvent('retried', { failed })
    },
  },
})
