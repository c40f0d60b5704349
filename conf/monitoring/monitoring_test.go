package monitoring

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const (
	rulesFile     = "gatehouse-alerts.yml"
	rulesTestFile = "testdata/gatehouse-alerts.test.yml"
	dashboardFile = "gatehouse-dashboard.json"
	certMetric    = "gatehouse_certificate_expiry_timestamp_seconds"
)

// targetLabels are the labels Prometheus adds to every scraped series.
var targetLabels = map[string]bool{"job": true, "instance": true}

// ---------------------------------------------------------------- exported metrics

// metric is one metric family Gatehouse registers.
type metric struct {
	name   string
	kind   string          // counter, gauge, histogram, summary, untyped
	labels map[string]bool // nil: not known (not a literal)
	pos    string
}

var (
	exportedOnce sync.Once
	exported     map[string]*metric
	exportedErr  error
)

// exportedMetrics reads the metric families Gatehouse registers from the
// repository's non-test Go sources: every call New*(prometheus.XOpts{Name: ...}, ...)
// (prometheus.NewCounterVec, promauto's With(reg).NewGauge, ...). The second
// argument, when it is a []string literal, gives the labels.
func exportedMetrics(t *testing.T) map[string]*metric {
	t.Helper()
	exportedOnce.Do(func() { exported, exportedErr = readExported(t) })
	if exportedErr != nil {
		t.Fatal(exportedErr)
	}
	return exported
}

func repoRoot() (string, error) {
	dir, err := filepath.Abs(".")
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/gatehouse/gatehouse\n") {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", fmt.Errorf("no go.mod of github.com/gatehouse/gatehouse above %s", dir)
		}
		dir = up
	}
}

func readExported(t *testing.T) (map[string]*metric, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	out := map[string]*metric{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			n := d.Name()
			if path != root && (strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") || n == "testdata" || n == "vendor" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !strings.Contains(string(src), "github.com/prometheus/client_golang/prometheus") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		collectMetrics(t, fset, f, root, out)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// collectMetrics adds the metrics of one file to out.
func collectMetrics(t *testing.T, fset *token.FileSet, f *ast.File, root string, out map[string]*metric) {
	pkgName := "" // the local name of .../client_golang/prometheus in this file
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if p == "github.com/prometheus/client_golang/prometheus" {
			pkgName = "prometheus"
			if imp.Name != nil {
				pkgName = imp.Name.Name
			}
		}
	}
	if pkgName == "" {
		return
	}
	consts := fileConsts(f)
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || !strings.HasPrefix(sel.Sel.Name, "New") {
			return true
		}
		lit, ok := call.Args[0].(*ast.CompositeLit)
		if !ok {
			return true
		}
		typ, ok := lit.Type.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := typ.X.(*ast.Ident); !ok || x.Name != pkgName {
			return true
		}
		kind := map[string]string{"CounterOpts": "counter", "GaugeOpts": "gauge", "HistogramOpts": "histogram",
			"SummaryOpts": "summary", "UntypedOpts": "untyped"}[typ.Sel.Name]
		if kind == "" {
			return true
		}
		pos := fset.Position(lit.Pos())
		if rel, err := filepath.Rel(root, pos.Filename); err == nil {
			pos.Filename = rel
		}
		parts := map[string]string{}
		for _, el := range lit.Elts {
			kv, ok := el.(*ast.KeyValueExpr)
			if !ok {
				continue
			}
			key, ok := kv.Key.(*ast.Ident)
			if !ok || (key.Name != "Namespace" && key.Name != "Subsystem" && key.Name != "Name") {
				continue
			}
			v, ok := stringValue(kv.Value, consts)
			if !ok {
				t.Logf("%s: %s of a %s is not a string constant: not collected", pos, key.Name, typ.Sel.Name)
				return true
			}
			parts[key.Name] = v
		}
		var name []string
		for _, k := range []string{"Namespace", "Subsystem", "Name"} {
			if parts[k] != "" {
				name = append(name, parts[k])
			}
		}
		m := &metric{name: strings.Join(name, "_"), kind: kind, labels: map[string]bool{}, pos: pos.String()}
		if strings.HasSuffix(sel.Sel.Name, "Vec") {
			m.labels = nil
			if len(call.Args) > 1 {
				if ls, ok := stringSlice(call.Args[1], consts); ok {
					m.labels = map[string]bool{}
					for _, l := range ls {
						m.labels[l] = true
					}
				}
			}
		}
		if m.name != "" {
			out[m.name] = m
		}
		return true
	})
}

// fileConsts are the file's string constants, for Name: someConst.
func fileConsts(f *ast.File) map[string]string {
	out := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if i < len(vs.Values) {
					if b, ok := vs.Values[i].(*ast.BasicLit); ok && b.Kind == token.STRING {
						if v, err := strconv.Unquote(b.Value); err == nil {
							out[n.Name] = v
						}
					}
				}
			}
		}
	}
	return out
}

func stringValue(e ast.Expr, consts map[string]string) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			v, err := strconv.Unquote(e.Value)
			return v, err == nil
		}
	case *ast.Ident:
		v, ok := consts[e.Name]
		return v, ok
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			a, ok1 := stringValue(e.X, consts)
			b, ok2 := stringValue(e.Y, consts)
			return a + b, ok1 && ok2
		}
	}
	return "", false
}

func stringSlice(e ast.Expr, consts map[string]string) ([]string, bool) {
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		return nil, false
	}
	if at, ok := lit.Type.(*ast.ArrayType); !ok || fmt.Sprint(at.Elt) != "string" {
		return nil, false
	}
	var out []string
	for _, el := range lit.Elts {
		v, ok := stringValue(el, consts)
		if !ok {
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}

// resolve finds the family a series name belongs to: the name itself, or a
// histogram's or summary's _bucket, _sum and _count series. extra are the
// labels that series has beyond the family's (le on _bucket).
func resolve(exp map[string]*metric, series string) (m *metric, extra map[string]bool) {
	if m := exp[series]; m != nil {
		if m.kind == "summary" {
			return m, map[string]bool{"quantile": true}
		}
		return m, nil
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(series, suf)
		if !ok {
			continue
		}
		if m := exp[base]; m != nil && (m.kind == "histogram" || m.kind == "summary" && suf != "_bucket") {
			if suf == "_bucket" {
				return m, map[string]bool{"le": true}
			}
			return m, nil
		}
	}
	return nil, nil
}

func TestExportedMetricsAreFound(t *testing.T) {
	exp := exportedMetrics(t)
	// A few that gateway/metrics.go has registered from the start: if the
	// source reader misses these, it misses others too.
	for name, kind := range map[string]string{
		"gatehouse_requests_total":           "counter",
		"gatehouse_faults_total":             "counter",
		"gatehouse_request_duration_seconds": "histogram",
		"gatehouse_breaker_state":            "gauge",
		certMetric:                           "gauge",
	} {
		m := exp[name]
		if m == nil {
			t.Errorf("%s not found in the sources", name)
			continue
		}
		if m.kind != kind {
			t.Errorf("%s: kind %s, want %s", name, m.kind, kind)
		}
	}
	if m := exp["gatehouse_requests_total"]; m != nil && !(m.labels["service"] && m.labels["outcome"]) {
		t.Errorf("gatehouse_requests_total: labels %v, want service and outcome", keys(m.labels))
	}
	if testing.Verbose() {
		var names []string
		for n, m := range exp {
			names = append(names, fmt.Sprintf("%s %s %v (%s)", n, m.kind, keys(m.labels), m.pos))
		}
		sort.Strings(names)
		t.Logf("exported:\n%s", strings.Join(names, "\n"))
	}
}

// ---------------------------------------------------------------- PromQL scanning

var metricRE = regexp.MustCompile(`gatehouse_[a-z0-9_]+`)

// metricNames are the gatehouse_* identifiers in s.
func metricNames(s string) []string {
	var out []string
	for _, loc := range metricRE.FindAllStringIndex(s, -1) {
		// not part of a longer identifier (foo_gatehouse_x, gatehouse_x:rate5m)
		if loc[0] > 0 && isIdent(s[loc[0]-1]) {
			continue
		}
		if loc[1] < len(s) && (isIdent(s[loc[1]]) || s[loc[1]] == ':') {
			continue
		}
		out = append(out, s[loc[0]:loc[1]])
	}
	return out
}

func isIdent(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

var selectorRE = regexp.MustCompile(`\b(gatehouse_[a-z0-9_]+)\s*\{`)

// selectorLabels are the label names of the matchers in each
// gatehouse_*{...} selector of the PromQL expression e.
func selectorLabels(e string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, m := range selectorRE.FindAllStringSubmatchIndex(e, -1) {
		name := e[m[2]:m[3]]
		i := m[1] // after '{'
		for {
			for i < len(e) && (e[i] == ' ' || e[i] == '\n' || e[i] == '\t' || e[i] == ',') {
				i++
			}
			if i >= len(e) {
				return nil, fmt.Errorf("unterminated selector of %s", name)
			}
			if e[i] == '}' {
				break
			}
			j := i
			for j < len(e) && isIdent(e[j]) && e[j] != ':' {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("selector of %s: no label name at %q", name, e[i:])
			}
			out[name] = append(out[name], e[i:j])
			for j < len(e) && e[j] == ' ' {
				j++
			}
			k := j
			for k < len(e) && strings.ContainsRune("=!~", rune(e[k])) {
				k++
			}
			if op := e[j:k]; op != "=" && op != "!=" && op != "=~" && op != "!~" {
				return nil, fmt.Errorf("selector of %s: bad matcher operator %q", name, op)
			}
			for k < len(e) && e[k] == ' ' {
				k++
			}
			if k >= len(e) || (e[k] != '"' && e[k] != '\'' && e[k] != '`') {
				return nil, fmt.Errorf("selector of %s: label %s: no quoted value", name, e[i:j])
			}
			q := e[k]
			k++
			for k < len(e) && e[k] != q {
				if e[k] == '\\' && q != '`' {
					k++
				}
				k++
			}
			if k >= len(e) {
				return nil, fmt.Errorf("selector of %s: unterminated value", name)
			}
			i = k + 1
		}
	}
	return out, nil
}

// checkExpr reports the gatehouse_* names of text that Gatehouse does not
// export and, when isQuery, the selector labels those metrics do not have.
// It returns the families named.
func checkExpr(t *testing.T, where, text string, isQuery bool) []string {
	t.Helper()
	fams, errs := exprProblems(exportedMetrics(t), text, isQuery)
	for _, err := range errs {
		t.Errorf("%s: %v", where, err)
	}
	return fams
}

func exprProblems(exp map[string]*metric, text string, isQuery bool) (fams []string, errs []error) {
	for _, n := range metricNames(text) {
		m, _ := resolve(exp, n)
		if m == nil {
			errs = append(errs, fmt.Errorf("%s is not a metric Gatehouse exports", n))
			continue
		}
		fams = append(fams, m.name)
	}
	if !isQuery {
		return fams, errs
	}
	sl, err := selectorLabels(text)
	if err != nil {
		return fams, append(errs, err)
	}
	for _, series := range keys(sl) {
		m, extra := resolve(exp, series)
		if m == nil || m.labels == nil {
			continue
		}
		for _, l := range sl[series] {
			if !m.labels[l] && !extra[l] && !targetLabels[l] {
				errs = append(errs, fmt.Errorf("%s has no label %q (it has %v)", series, l, keys(m.labels)))
			}
		}
	}
	return fams, errs
}

func TestScanners(t *testing.T) {
	got := metricNames(`sum(rate(gatehouse_a_total{x="gatehouse_b"}[5m])) / x_gatehouse_c + gatehouse_d:rate5m + gatehouse_e_bucket`)
	if want := []string{"gatehouse_a_total", "gatehouse_b", "gatehouse_e_bucket"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("metricNames: %v, want %v", got, want)
	}
	sl, err := selectorLabels(`rate(gatehouse_x{a="1", b=~"p|q}",c!~'z'}[5m]) + gatehouse_y{} + gatehouse_z{d!="\"}"}`)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sl) != "map[gatehouse_x:[a b c] gatehouse_z:[d]]" {
		t.Errorf("selectorLabels: %v", sl)
	}
	if _, err := selectorLabels(`gatehouse_x{a=1}`); err == nil {
		t.Error("selectorLabels: unquoted value accepted")
	}
	exp := exportedMetrics(t)
	for e, want := range map[string]int{
		`rate(gatehouse_request_duration_seconds_bucket{le="1",service="a",job="g"}[5m])`:   0,
		`gatehouse_request_duration_seconds_count + gatehouse_request_duration_seconds_sum`: 0,
		`gatehouse_no_such_metric_total`:         1,
		`gatehouse_requests_total{kind="nonce"}`: 1,
		`gatehouse_breaker_state_bucket`:         1,
		`gatehouse_faults_total_count`:           1,
		`gatehouse_faults_total{le="1"}`:         1,
	} {
		if _, errs := exprProblems(exp, e, true); len(errs) != want {
			t.Errorf("exprProblems(%s): %v, want %d problems", e, errs, want)
		}
	}
	b, err := parseRules(strings.NewReader("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: |\n          x\n\n          > 1\n        labels:\n          severity: \"page\"\n        annotations:\n          description: >-\n            two\n            lines\n      - record: r:x\n        expr: 'y'\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 2 || b[0].Alert != "A" || b[0].Expr != "x\n\n> 1\n" || b[0].Labels["severity"] != "page" ||
		b[0].Annotations["description"] != "two lines" || b[1].Record != "r:x" || b[1].Expr != "y" {
		t.Errorf("parseRules: %+v", b)
	}
}

// ---------------------------------------------------------------- the rules file

// rule is one rule of a Prometheus rules file.
type rule struct {
	Group, Alert, Record, Expr, For string
	Labels, Annotations             map[string]string
	Line                            int
}

// parseRules reads a Prometheus rules file in the subset of YAML that
// gatehouse-alerts.yml is written in (block mappings and sequences, plain,
// quoted, literal | and folded > scalars, whole-line comments): the module
// has no YAML library, and promtool (below) checks the full syntax.
func parseRules(r interface{ Read([]byte) (int, error) }) ([]*rule, error) {
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	lines := strings.Split(sb.String(), "\n")
	var (
		rules    []*rule
		cur      *rule
		group    string
		ruleInd  = -1 // indentation of the current rule's keys
		section  string
		indentOf = func(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }
	)
	keyRE := regexp.MustCompile(`^(- )?([A-Za-z_][A-Za-z0-9_]*):(?:\s+(.*))?$`)
	for i := 0; i < len(lines); i++ {
		raw := strings.TrimRight(lines[i], " \t\r")
		trim := strings.TrimSpace(raw)
		if trim == "" || strings.HasPrefix(trim, "#") {
			continue
		}
		if strings.Contains(raw, "\t") {
			return nil, fmt.Errorf("line %d: tab in indentation", i+1)
		}
		ind := indentOf(raw)
		m := keyRE.FindStringSubmatch(trim)
		if m == nil {
			return nil, fmt.Errorf("line %d: not a key: value line: %q", i+1, trim)
		}
		dash, key, val := m[1] != "", m[2], m[3]
		keyInd := ind
		if dash {
			keyInd += 2
		}
		// The value: a block scalar, a quoted or a plain scalar, or nothing
		// (a nested mapping or sequence follows).
		var value string
		switch {
		case val == "|" || val == "|-" || val == ">" || val == ">-":
			var block []string
			blockInd := -1
			j := i + 1
			for ; j < len(lines); j++ {
				l := strings.TrimRight(lines[j], " \t\r")
				if strings.TrimSpace(l) == "" {
					block = append(block, "")
					continue
				}
				if indentOf(l) <= keyInd {
					break
				}
				if blockInd < 0 {
					blockInd = indentOf(l)
				}
				if indentOf(l) < blockInd {
					return nil, fmt.Errorf("line %d: block scalar less indented than its first line", j+1)
				}
				block = append(block, l[blockInd:])
			}
			for len(block) > 0 && block[len(block)-1] == "" {
				block = block[:len(block)-1]
			}
			i = j - 1
			if val[0] == '|' {
				value = strings.Join(block, "\n")
			} else {
				// folded: lines joined by spaces, an empty line a newline
				var parts []string
				for _, l := range block {
					if l == "" {
						parts = append(parts, "\n")
					} else if len(parts) > 0 && parts[len(parts)-1] != "\n" {
						parts = append(parts, " "+l)
					} else {
						parts = append(parts, l)
					}
				}
				value = strings.Join(parts, "")
			}
			if val == "|" || val == ">" {
				value += "\n"
			}
		case strings.HasPrefix(val, `"`):
			v, err := strconv.Unquote(val)
			if err != nil {
				return nil, fmt.Errorf("line %d: %s: %v", i+1, key, err)
			}
			value = v
		case strings.HasPrefix(val, `'`):
			if len(val) < 2 || !strings.HasSuffix(val, `'`) {
				return nil, fmt.Errorf("line %d: %s: unterminated single-quoted value", i+1, key)
			}
			value = strings.ReplaceAll(val[1:len(val)-1], "''", "'")
		default:
			if strings.Contains(val, " #") {
				return nil, fmt.Errorf("line %d: trailing comment (not supported here)", i+1)
			}
			value = val
		}

		switch {
		case dash && (key == "alert" || key == "record"):
			cur = &rule{Group: group, Labels: map[string]string{}, Annotations: map[string]string{}, Line: i + 1}
			if key == "alert" {
				cur.Alert = value
			} else {
				cur.Record = value
			}
			rules = append(rules, cur)
			ruleInd, section = keyInd, ""
		case dash && key == "name":
			group, cur, ruleInd = value, nil, -1
		case cur != nil && keyInd == ruleInd:
			section = ""
			switch key {
			case "expr":
				cur.Expr = value
			case "for":
				cur.For = value
			case "labels", "annotations":
				section = key
			case "keep_firing_for":
			default:
				return nil, fmt.Errorf("line %d: unknown rule key %q", i+1, key)
			}
		case cur != nil && keyInd > ruleInd && section != "":
			if section == "labels" {
				cur.Labels[key] = value
			} else {
				cur.Annotations[key] = value
			}
		case cur != nil && keyInd > ruleInd:
			return nil, fmt.Errorf("line %d: %s nested under no labels or annotations", i+1, key)
		default:
			cur, ruleInd = nil, -1 // groups:, rules:, interval: ...
		}
	}
	return rules, nil
}

func readRules(t *testing.T) []*rule {
	t.Helper()
	f, err := os.Open(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rules, err := parseRules(f)
	if err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	if len(rules) == 0 {
		t.Fatalf("%s: no rules", rulesFile)
	}
	return rules
}

func TestRulesNameOnlyExportedMetrics(t *testing.T) {
	used := map[string]bool{}
	seen := map[string]bool{}
	for _, r := range readRules(t) {
		where := fmt.Sprintf("%s:%d %s", rulesFile, r.Line, r.Alert+r.Record)
		if r.Alert == "" {
			t.Errorf("%s: a recording rule; this file holds alerts", where)
		}
		if seen[r.Alert] {
			t.Errorf("%s: alert name used twice", where)
		}
		seen[r.Alert] = true
		if strings.TrimSpace(r.Expr) == "" {
			t.Errorf("%s: no expr", where)
		}
		switch r.Labels["severity"] {
		case "warning", "critical", "page":
		default:
			t.Errorf("%s: severity %q, want warning, critical or page", where, r.Labels["severity"])
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("%s: summary and description annotations wanted", where)
		}
		names := checkExpr(t, where+" expr", r.Expr, true)
		if len(names) == 0 && !regexp.MustCompile(`\bup\{`).MatchString(r.Expr) {
			t.Errorf("%s: names no Gatehouse metric", where)
		}
		for _, n := range names {
			used[n] = true
		}
		for k, v := range r.Annotations {
			checkExpr(t, where+" annotation "+k, v, false)
		}
	}
	for _, n := range []string{certMetric, "gatehouse_faults_total", "gatehouse_requests_total", "gatehouse_replays_total",
		"gatehouse_store_epoch_changes_total", "gatehouse_store_recovery_refusals_total", "gatehouse_breaker_state",
		"gatehouse_audit_write_errors_total"} {
		if !used[n] {
			t.Errorf("no alert on %s", n)
		}
	}
	t.Logf("metrics in %s: %v", rulesFile, keys(used))
}

// thresholdRE finds the upper bounds "< N", "< N * M" of an expression
// ("<=" is not one: it is the expired rule's "<= 0").
var thresholdRE = regexp.MustCompile(`<\s*(\d+)(?:\s*\*\s*(\d+))?`)

func TestCertificateExpiryThresholds(t *testing.T) {
	want := map[int]string{72 * 3600: "warning", 24 * 3600: "critical", 6 * 3600: "page"}
	found := map[int]string{}
	expired := false
	for _, r := range readRules(t) {
		if !strings.Contains(r.Expr, certMetric) {
			continue
		}
		if regexp.MustCompile(certMetric + `\s*-\s*time\(\)\s*<=\s*0\b`).MatchString(r.Expr) {
			expired = true
		}
		for _, m := range thresholdRE.FindAllStringSubmatch(r.Expr, -1) {
			v, _ := strconv.Atoi(m[1])
			if m[2] != "" {
				f, _ := strconv.Atoi(m[2])
				v *= f
			}
			if prev, ok := found[v]; ok && prev != r.Labels["severity"] {
				t.Errorf("threshold %ds in two rules of severities %s and %s", v, prev, r.Labels["severity"])
			}
			found[v] = r.Labels["severity"]
		}
		if !strings.Contains(r.Expr, "time()") {
			t.Errorf("%s: the certificate rule does not compare with time()", r.Alert)
		}
	}
	for secs, sev := range want {
		if got, ok := found[secs]; !ok {
			t.Errorf("no certificate expiry alert at %dh (%d s)", secs/3600, secs)
		} else if got != sev {
			t.Errorf("certificate expiry alert at %dh: severity %s, want %s", secs/3600, got, sev)
		}
	}
	if !expired {
		t.Errorf("no alert on an expired certificate (%s - time() <= 0)", certMetric)
	}
}

// ---------------------------------------------------------------- the dashboard

func readDashboard(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// dashPanels are the dashboard's panels, those inside rows included.
func dashPanels(d map[string]any) []map[string]any {
	var out []map[string]any
	var walk func(v any)
	walk = func(v any) {
		ps, _ := v.([]any)
		for _, p := range ps {
			pm, ok := p.(map[string]any)
			if !ok {
				continue
			}
			out = append(out, pm)
			walk(pm["panels"])
		}
	}
	walk(d["panels"])
	return out
}

// dashQueries are the PromQL expressions of the panels' targets, by where
// they are.
func dashQueries(t *testing.T, d map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range dashPanels(d) {
		if p["type"] == "row" {
			continue
		}
		ts, _ := p["targets"].([]any)
		if len(ts) == 0 {
			t.Errorf("panel %v %q: no targets", p["id"], p["title"])
		}
		for _, tg := range ts {
			tm, _ := tg.(map[string]any)
			e, _ := tm["expr"].(string)
			if strings.TrimSpace(e) == "" {
				t.Errorf("panel %v %q: target %v has no expr", p["id"], p["title"], tm["refId"])
				continue
			}
			out[fmt.Sprintf("panel %v %q target %v", p["id"], p["title"], tm["refId"])] = e
		}
	}
	return out
}

func TestDashboardStructure(t *testing.T) {
	d := readDashboard(t)
	if v, _ := d["schemaVersion"].(float64); v < 36 {
		t.Errorf("schemaVersion %v, want 36 or later", d["schemaVersion"])
	}
	if d["uid"] == nil || d["title"] == nil {
		t.Error("no uid or title")
	}
	hasInput := false
	ins, _ := d["__inputs"].([]any)
	for _, in := range ins {
		m, _ := in.(map[string]any)
		if m["name"] == "DS_PROMETHEUS" && m["pluginId"] == "prometheus" && m["type"] == "datasource" {
			hasInput = true
		}
	}
	if !hasInput {
		t.Error("no DS_PROMETHEUS datasource input")
	}
	isDS := func(v any) bool {
		m, _ := v.(map[string]any)
		return m["uid"] == "${DS_PROMETHEUS}" && m["type"] == "prometheus"
	}
	ids := map[float64]bool{}
	type rect struct{ x, y, w, h float64 }
	var rects []rect
	var titles []string
	for _, p := range dashPanels(d) {
		id, _ := p["id"].(float64)
		if id == 0 || ids[id] {
			t.Errorf("panel %q: id %v missing or used twice", p["title"], p["id"])
		}
		ids[id] = true
		g, _ := p["gridPos"].(map[string]any)
		r := rect{}
		r.x, _ = g["x"].(float64)
		r.y, _ = g["y"].(float64)
		r.w, _ = g["w"].(float64)
		r.h, _ = g["h"].(float64)
		if r.w <= 0 || r.h <= 0 || r.x+r.w > 24 {
			t.Errorf("panel %v %q: gridPos %v", p["id"], p["title"], g)
		}
		for _, o := range rects {
			if r.x < o.x+o.w && o.x < r.x+r.w && r.y < o.y+o.h && o.y < r.y+r.h {
				t.Errorf("panel %v %q overlaps another", p["id"], p["title"])
			}
		}
		rects = append(rects, r)
		if p["type"] == "row" {
			continue
		}
		titles = append(titles, fmt.Sprint(p["title"]))
		if !isDS(p["datasource"]) {
			t.Errorf("panel %v %q: datasource %v, want the ${DS_PROMETHEUS} input", p["id"], p["title"], p["datasource"])
		}
		ts, _ := p["targets"].([]any)
		for _, tg := range ts {
			tm, _ := tg.(map[string]any)
			if !isDS(tm["datasource"]) {
				t.Errorf("panel %v %q target %v: datasource %v", p["id"], p["title"], tm["refId"], tm["datasource"])
			}
		}
	}
	tmpl, _ := d["templating"].(map[string]any)
	vars, _ := tmpl["list"].([]any)
	for _, v := range vars {
		vm, _ := v.(map[string]any)
		if vm["type"] == "query" && !isDS(vm["datasource"]) {
			t.Errorf("variable %v: datasource %v", vm["name"], vm["datasource"])
		}
	}
	t.Logf("%d panels: %s", len(titles), strings.Join(titles, "; "))
}

func TestDashboardNamesOnlyExportedMetrics(t *testing.T) {
	d := readDashboard(t)
	used := map[string]bool{}
	for where, e := range dashQueries(t, d) {
		for _, n := range checkExpr(t, where, e, true) {
			used[n] = true
		}
	}
	// Variable queries (label_values(metric{...}, label)) and every other
	// string: titles, descriptions, legends.
	tmpl, _ := d["templating"].(map[string]any)
	vars, _ := tmpl["list"].([]any)
	for _, v := range vars {
		vm, _ := v.(map[string]any)
		q := vm["query"]
		if qm, ok := q.(map[string]any); ok {
			q = qm["query"]
		}
		if s, ok := q.(string); ok {
			checkExpr(t, fmt.Sprintf("variable %v", vm["name"]), s, true)
		}
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case string:
			checkExpr(t, dashboardFile+" "+path, v, false)
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), x)
			}
		case map[string]any:
			for k, x := range v {
				walk(path+"."+k, x)
			}
		}
	}
	walk("", d)

	// What issue 16 asks the dashboard to show.
	for _, n := range []string{
		"gatehouse_requests_total", "gatehouse_faults_total", "gatehouse_request_duration_seconds",
		"gatehouse_authz_decisions_total", "gatehouse_replays_total", "gatehouse_lockouts_total",
		"gatehouse_throttled_total", "gatehouse_breaker_state", "gatehouse_backend_in_flight",
		"gatehouse_composite_step_duration_seconds", "gatehouse_composite_compensations_total",
		certMetric, "gatehouse_store_epoch_changes_total", "gatehouse_store_recovery_refusals_total",
		"gatehouse_saml_assertion_cache_lookups_total",
	} {
		if !used[n] {
			t.Errorf("no panel shows %s", n)
		}
	}
	quantile := false
	for _, e := range dashQueries(t, d) {
		if strings.Contains(e, "histogram_quantile(") && strings.Contains(e, "gatehouse_request_duration_seconds_bucket") {
			quantile = true
		}
	}
	if !quantile {
		t.Error("no latency percentile (histogram_quantile over gatehouse_request_duration_seconds_bucket)")
	}
	t.Logf("metrics in %s: %v", dashboardFile, keys(used))
}

// ---------------------------------------------------------------- promtool

func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not on PATH: run ./build.sh test, which takes it from Debian's prometheus package")
	}
	return p
}

func TestPromtoolCheckRules(t *testing.T) {
	p := promtool(t)
	out, err := exec.Command(p, "check", "rules", rulesFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	// The file's own reader saw every rule promtool saw.
	m := regexp.MustCompile(`SUCCESS: (\d+) rules found`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("promtool check rules: %s", out)
	}
	if n, _ := strconv.Atoi(string(m[1])); n != len(readRules(t)) {
		t.Errorf("promtool found %d rules, parseRules %d", n, len(readRules(t)))
	}
}

func TestPromtoolRuleUnitTests(t *testing.T) {
	p := promtool(t)
	cmd := exec.Command(p, "test", "rules", filepath.Base(rulesTestFile))
	cmd.Dir = filepath.Dir(rulesTestFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules %s: %v\n%s", rulesTestFile, err, out)
	}
}

// Grafana's variables, replaced so that promtool can parse the queries.
var grafanaVarRE = regexp.MustCompile(`\$\{?[A-Za-z_][A-Za-z0-9_]*\}?`)

func TestPromtoolDashboardQueriesParse(t *testing.T) {
	p := promtool(t)
	qs := dashQueries(t, readDashboard(t))
	var where []string
	for w := range qs {
		where = append(where, w)
	}
	sort.Strings(where)
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, w := range where {
		e := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h").Replace(qs[w])
		e = grafanaVarRE.ReplaceAllString(e, ".*")
		q, _ := json.Marshal(e) // a JSON string is a YAML double-quoted scalar
		fmt.Fprintf(&b, "      # %s\n      - record: dashboard:query_%d\n        expr: %s\n", w, i, q)
	}
	f := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(p, "check", "rules", f).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules on the dashboard's queries: %v\n%s\n%s", err, out, b.String())
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
