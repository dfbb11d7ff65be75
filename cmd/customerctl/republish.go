package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// republish asks customerd (POST /v1/events/republish) to re-emit a range of
// integration events through its bus: the log is customerd's to read (the
// embedded store is locked by it), and so is the bus.
func republish(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("customerctl republish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr("CUSTOMERD_DATA", "./data"), "data directory (for the default --token-file)")
	from := fs.String("from", "", "republish after this position (the last one the subscriber has), or since this RFC 3339 time")
	to := fs.String("to", "", "up to this position or time, inclusive (default: the end of the log now)")
	url := fs.String("url", envOr("CUSTOMERD_URL", "http://127.0.0.1:8080"), "customerd's address")
	tokenFile := fs.String("token-file", "", "file holding a token with events.republish (default <data>/admin.token; or set CUSTOMERD_TOKEN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" {
		return errors.New("--from is required: a position (1042/1042) or an RFC 3339 time")
	}
	token := os.Getenv("CUSTOMERD_TOKEN")
	if token == "" {
		path := *tokenFile
		if path == "" {
			path = filepath.Join(*data, "admin.token")
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("a token is needed (--token-file or CUSTOMERD_TOKEN): %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	body, _ := json.Marshal(map[string]string{"from": *from, "to": *to})
	req, err := http.NewRequest("POST", strings.TrimSuffix(*url, "/")+"/v1/events/republish", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: time.Hour}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var p struct{ Title, Detail string }
		_ = json.Unmarshal(answer, &p)
		return fmt.Errorf("customerd answered %d: %s %s", resp.StatusCode, p.Title, p.Detail)
	}
	var res struct {
		Published    int    `json:"published"`
		LastPosition string `json:"last_position"`
	}
	if err := json.Unmarshal(answer, &res); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "republished %d events, the last at %s\n", res.Published, res.LastPosition)
	return nil
}
