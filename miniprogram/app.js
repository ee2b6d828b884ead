// The mini-program: no global state; the pages share the api/ modules. Nothing personal is logged.
App({})
