// The end-to-end run: started by tests/miniprogram/test_end_to_end.py with the live backend's address.
module.exports = {
  testEnvironment: 'jsdom',
  testMatch: ['<rootDir>/tests/e2e/**/*.e2e.js'],
  testTimeout: 60000,
}
