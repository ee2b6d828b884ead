"""The outside services, each behind our own class built once from the settings: WeChat (the mini-program's
server API, app.clients.wechat), WeCom (app.clients.wecom), Tencent Cloud SMS (app.clients.sms) and SMTP
(app.clients.smtp); their shared access-token caches (app.clients.tokens); and the fake servers tests and demos
talk to (app.clients.fake_wechat, app.clients.fake_sms)."""
