// Package monitoring holds the monitoring files shipped with Gatehouse,
// beside this file: gatehouse-alerts.yml, a Prometheus rules file (the
// certificate expiry alerts at 72, 24 and 6 hours, the shared store, replays,
// breakers, audit write errors, fault rates), and gatehouse-dashboard.json, a
// Grafana dashboard to import. README.md says how to load them and what each
// alert asks of the operator.
//
// The package has no code. Its test parses both files and checks that every
// metric they name (gatehouse_*) is one that Gatehouse registers, with the
// labels it has: the exported names are read from the repository's sources
// (the Name of every prometheus.*Opts literal passed to a prometheus.New*
// call), so that a renamed or removed metric fails the test instead of
// leaving a panel empty or an alert silent. When promtool is on PATH the
// test also runs `promtool check rules`, the rule unit tests in
// testdata/gatehouse-alerts.test.yml, and a syntax check of every dashboard
// query.
package monitoring
