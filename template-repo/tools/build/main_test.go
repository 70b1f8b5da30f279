package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"artifact/internal/app"
)

func write(t *testing.T, file, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDirDigestIsTheSortedSha256sumListing(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "index.html"), "hello\n")
	write(t, filepath.Join(dir, "app.js"), "")
	write(t, filepath.Join(dir, "img", "a.svg"), "<svg/>")
	sum, size, err := DirDigest(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The listing is what `find . -type f -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum` prints.
	var want bytes.Buffer
	for _, f := range []string{"app.js", "img/a.svg", "index.html"} {
		d, _, err := FileDigest(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		want.WriteString(d + "  " + f + "\n")
	}
	wantSum, _, err := digestBytes(want.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if sum != wantSum || size != int64(len("hello\n")+len("<svg/>")) {
		t.Errorf("DirDigest = %s %d, want %s %d", sum, size, wantSum, len("hello\n")+len("<svg/>"))
	}
	if err := os.Symlink("index.html", filepath.Join(dir, "link.html")); err == nil {
		if _, _, err := DirDigest(dir); err == nil {
			t.Error("symlinks must be rejected")
		}
	}
}

func digestBytes(b []byte) (string, int64, error) {
	f, err := os.CreateTemp("", "digest")
	if err != nil {
		return "", 0, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		return "", 0, err
	}
	f.Close()
	return FileDigest(f.Name())
}

func TestParsePlatforms(t *testing.T) {
	got, err := ParsePlatforms(" linux-amd64,darwin-arm64 linux-amd64 ", nil)
	if err != nil || strings.Join(got, " ") != "linux-amd64 darwin-arm64" {
		t.Errorf("got %v %v", got, err)
	}
	got, _ = ParsePlatforms("", []string{"windows-amd64"})
	if strings.Join(got, " ") != "windows-amd64" {
		t.Errorf("app.json fallback: %v", got)
	}
	got, _ = ParsePlatforms("", nil)
	if len(got) != len(app.DefaultPlatforms) {
		t.Errorf("defaults: %v", got)
	}
	if _, err := ParsePlatforms("linux-386", nil); err == nil {
		t.Error("linux-386 should be rejected")
	}
	if BinaryName("tip", "windows-amd64") != "tip-windows-amd64.exe" || BinaryName("tip", "linux-arm64") != "tip-linux-arm64" {
		t.Error("BinaryName")
	}
}

func TestBuildWebRendersAndRejectsSource(t *testing.T) {
	src := filepath.Join(t.TempDir(), "web")
	write(t, filepath.Join(src, "index.html"), "<title>{{APP_TITLE}}</title>")
	write(t, filepath.Join(src, "app.js"), "'use strict';")
	cfg := Config{Meta: app.Meta{Name: "x", Title: "A & B"}, Version: "1.0.0"}
	dst := filepath.Join(t.TempDir(), "web")
	entry, err := buildWeb(cfg, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(filepath.Join(dst, "index.html"))
	if string(page) != "<title>A &amp; B</title>" {
		t.Errorf("page = %q", page)
	}
	if entry.ArtifactID != "web" || entry.Kind != "web" || entry.Entrypoint != "index.html" || entry.Path != "web" || entry.SourceIncluded {
		t.Errorf("entry = %+v", entry)
	}
	for _, bad := range []string{"app.js.map", "main.go", ".env", "src.zip"} {
		src2 := filepath.Join(t.TempDir(), "web")
		write(t, filepath.Join(src2, "index.html"), "ok")
		write(t, filepath.Join(src2, bad), "x")
		if _, err := buildWeb(cfg, src2, filepath.Join(t.TempDir(), "web")); err == nil {
			t.Errorf("%s must be rejected", bad)
		}
	}
}

func TestVerify(t *testing.T) {
	dist := t.TempDir()
	write(t, filepath.Join(dist, "web", "index.html"), "<h1>hi</h1>")
	sum, size, err := DirDigest(filepath.Join(dist, "web"))
	if err != nil {
		t.Fatal(err)
	}
	m := Manifest{SchemaVersion: 1, Artifacts: []Entry{{
		ArtifactID: "web", Kind: "web", Name: "Hi", Path: "web", SHA256: sum, SizeBytes: size, Entrypoint: "index.html",
	}}}
	if err := WriteManifest(filepath.Join(dist, manifestName), m); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := verify(dist, &out); err != nil {
		t.Fatalf("verify: %v", err)
	}
	write(t, filepath.Join(dist, "web", "index.html"), "<h1>changed</h1>")
	if err := verify(dist, &out); err == nil {
		t.Error("a changed file must fail verification")
	}
	write(t, filepath.Join(dist, "web", "index.html"), "<h1>hi</h1>")
	write(t, filepath.Join(dist, "bin", "stray"), "x")
	if err := verify(dist, &out); err == nil {
		t.Error("an unlisted file must fail verification")
	}
	os.RemoveAll(filepath.Join(dist, "bin"))
	m.Artifacts[0].Path = "../web"
	if err := WriteManifest(filepath.Join(dist, manifestName), m); err != nil {
		t.Fatal(err)
	}
	if err := verify(dist, &out); err == nil {
		t.Error("a path escaping dist must fail verification")
	}
}
