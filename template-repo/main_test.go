package main

// Frame tests: they hold for every tool, so they never depend on the tool's own behaviour.

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"artifact/internal/app"
	"artifact/tool"
)

func mustMeta(t *testing.T) app.Meta {
	t.Helper()
	m, err := app.Parse(appJSON)
	if err != nil {
		t.Fatalf("app.json is invalid: %v", err)
	}
	return m
}

func TestHelpAndVersion(t *testing.T) {
	meta := mustMeta(t)
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"some", "input", "--help"}} {
		var out, errOut bytes.Buffer
		if code := run(args, nil, &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errOut.String())
		}
		s := out.String()
		if !strings.Contains(s, meta.Title) || !strings.Contains(s, meta.Name+" serve") || !strings.Contains(s, tool.Summary) {
			t.Errorf("%v: help is missing title, serve or summary:\n%s", args, s)
		}
		if strings.Contains(s, "{name}") {
			t.Errorf("help contains an unreplaced {name}")
		}
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var out bytes.Buffer
		if code := run(args, nil, &out, io.Discard); code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
		if out.String() != meta.Name+" "+version+"\n" {
			t.Errorf("%v: got %q", args, out.String())
		}
	}
}

func TestWebHandler(t *testing.T) {
	meta := mustMeta(t)
	meta.Title = `Tips <script>alert("x")</script> & more`
	h, err := newWebHandler(meta)
	if err != nil {
		t.Fatal(err)
	}
	get := func(method, target string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
		return rec
	}

	rec := get("GET", "/")
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, "Tips &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more") {
		t.Errorf("title is not escaped in the page:\n%s", body)
	}
	if strings.Contains(body, "{{APP_") {
		t.Errorf("page has unreplaced placeholders")
	}
	if rec.Header().Get("Content-Security-Policy") == "" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("missing security headers")
	}

	if rec := get("GET", "/app.js"); rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") {
		t.Errorf("app.js: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec := get("GET", "/style.css"); rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/css") {
		t.Errorf("style.css: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, p := range []string{"/missing.js", "/../main.go", "/web/", "/%2e%2e/app.json"} {
		if rec := get("GET", p); rec.Code != http.StatusNotFound {
			t.Errorf("%s: want 404, got %d", p, rec.Code)
		}
	}
	if rec := get("POST", "/"); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: want 405, got %d", rec.Code)
	}
}

func TestWebFilesAreSelfContained(t *testing.T) {
	page, err := webFiles.ReadFile("web/index.html")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ToLower(string(page))
	for _, bad := range []string{"http://", "https://", "<script>", " onclick=", " style="} {
		if strings.Contains(s, bad) {
			t.Errorf("index.html contains %q: the web app must work offline and without inline code", bad)
		}
	}
	if !strings.Contains(string(page), app.TitleToken) {
		t.Errorf("index.html should show the title with %s", app.TitleToken)
	}
}
