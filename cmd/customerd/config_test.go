package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestConfigFlagsWinOverEnvironmentWhichWinsOverDefaults(t *testing.T) {
	env := map[string]string{"CUSTOMERD_ADDR": "0.0.0.0:9000", "CUSTOMERD_DATA": "/srv/customers", "CUSTOMERD_READY_LAG": "3s"}
	c, err := parseConfig([]string{"--addr", "127.0.0.1:7000"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:7000" || c.Data != "/srv/customers" || c.ReadyLag != 3*time.Second || c.MinPositionWait != 5*time.Second {
		t.Fatalf("%+v", c)
	}
	if c.MasterKeyFile != filepath.Join("/srv/customers", "master.key") || c.Tokens != filepath.Join("/srv/customers", "tokens.json") {
		t.Fatalf("files do not follow the data directory: %+v", c)
	}
}

func TestConfigReportsEveryProblem(t *testing.T) {
	env := map[string]string{"CUSTOMERD_SHUTDOWN_TIMEOUT": "soon"}
	_, err := parseConfig([]string{"--log-level", "loud", "--max-body", "12"}, func(k string) string { return env[k] }, io.Discard)
	if err == nil {
		t.Fatal("bad settings accepted")
	}
	for _, want := range []string{"CUSTOMERD_SHUTDOWN_TIMEOUT", "log-level", "max-body"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// TestREADMEListsEveryFlag: the README's configuration table names every flag
// with its environment variable and default, and nothing customerd lacks.
func TestREADMEListsEveryFlag(t *testing.T) {
	var help strings.Builder
	if _, err := parseConfig([]string{"--help"}, func(string) string { return "" }, &help); err == nil {
		t.Fatal("--help did not stop parsing")
	}
	type setting struct{ env, def string }
	flags := map[string]setting{}
	var name string
	for _, line := range strings.Split(help.String(), "\n") {
		if m := flagLine.FindStringSubmatch(line); m != nil {
			name = m[1]
			continue
		}
		if name == "" {
			continue
		}
		s := setting{}
		if m := envPart.FindStringSubmatch(line); m != nil {
			s.env = m[1]
		}
		if m := defaultPart.FindStringSubmatch(line); m != nil {
			s.def = strings.Trim(m[1], `"`)
		}
		flags[name], name = s, ""
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, m := range tableRow.FindAllStringSubmatch(string(readme), -1) {
		rows[m[1]] = []string{m[2], m[3]}
	}
	if len(flags) < 10 {
		t.Fatalf("read %d flags from --help: %q", len(flags), help.String())
	}
	for f, s := range flags {
		row, ok := rows[f]
		switch {
		case !ok:
			t.Errorf("the README's configuration table lacks --%s", f)
		case row[0] != s.env:
			t.Errorf("--%s: the README names %s, customerd reads %s", f, row[0], s.env)
		case s.def != "" && !strings.Contains(row[1], "`"+s.def+"`"):
			t.Errorf("--%s: the README's default %q is not customerd's %q", f, row[1], s.def)
		}
	}
	for f := range rows {
		if _, ok := flags[f]; !ok {
			t.Errorf("the README lists --%s, which customerd does not have", f)
		}
	}
}

var (
	flagLine    = regexp.MustCompile(`^  -([a-z-]+)`)
	envPart     = regexp.MustCompile(`\((CUSTOMERD_[A-Z_]+)\)`)
	defaultPart = regexp.MustCompile(`\(default ([^)]+)\)\s*$`)
	tableRow    = regexp.MustCompile("(?m)^\\| `--([a-z-]+)` \\| `(CUSTOMERD_[A-Z_]+)` \\| ([^|]*) \\|")
)
