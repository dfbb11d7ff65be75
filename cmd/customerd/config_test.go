package main

import (
	"io"
	"path/filepath"
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
