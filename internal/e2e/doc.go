// Package e2e holds cross-package end-to-end tests: DSL programs run by the
// runtime on a broker (the in-process kfake cluster of internal/kafkatest,
// or the cluster named by KAFKI_TEST_BROKERS), checked against results
// computed directly in the test.
//
// It is test-only: it has no non-test code besides this comment and must
// not be imported.
package e2e
