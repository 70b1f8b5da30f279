// Command build is the template's one build command. Run it from the repository root:
//
//	go run ./tools/build            build dist/ (web app, binaries, artifact-manifest.json)
//	go run ./tools/build verify     re-check dist/ against its manifest and smoke-test the host binary
//	go run ./tools/build clean      remove dist/
//
// Environment:
//
//	ARTIFACT_TYPE  web | binary | both   (default: app.json artifact_type, else both)
//	PLATFORMS      e.g. "linux-amd64 darwin-arm64" (space or comma separated; default: app.json
//	               platforms, else linux-amd64 linux-arm64 darwin-amd64 darwin-arm64 windows-amd64)
//	VERSION        version embedded in the binaries (default: app.json version)
//	RUN_ID         optional build run id recorded in the manifest
//	GO             go command to use (default: go)
//
// Part of the frame: tool changes never edit this program.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"

	"artifact/internal/app"
)

const (
	distDir      = "dist"
	manifestName = "artifact-manifest.json"
	webDir       = "web"
)

// Manifest is dist/artifact-manifest.json (schema_version 1).
type Manifest struct {
	SchemaVersion int     `json:"schema_version"`
	RunID         string  `json:"run_id,omitempty"`
	Artifacts     []Entry `json:"artifacts"`
}

// Entry is one artifact of the manifest. Path is relative to dist/ and internal only.
type Entry struct {
	ArtifactID     string `json:"artifact_id"`
	Kind           string `json:"kind"`
	Name           string `json:"name"`
	Path           string `json:"path"`
	SHA256         string `json:"sha256"`
	SizeBytes      int64  `json:"size_bytes"`
	Platform       string `json:"platform,omitempty"`
	Entrypoint     string `json:"entrypoint,omitempty"`
	SourceIncluded bool   `json:"source_included"`
}

// Config is the resolved build configuration.
type Config struct {
	Meta         app.Meta
	ArtifactType string
	Platforms    []string
	Version      string
	RunID        string
	GoCmd        string
}

func main() {
	cmd := "build"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	var err error
	switch cmd {
	case "build":
		err = build()
	case "verify":
		err = verify(distDir, os.Stdout)
	case "clean":
		err = os.RemoveAll(distDir)
	case "-h", "--help", "help":
		fmt.Println("usage: go run ./tools/build [build|verify|clean]  (see README.md)")
	default:
		err = fmt.Errorf("unknown command %q: use build, verify or clean", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "build: error:", err)
		os.Exit(1)
	}
}

var runIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// LoadConfig reads app.json in the current directory and applies the environment overrides.
func LoadConfig(getenv func(string) string) (Config, error) {
	if _, err := os.Stat("go.mod"); err != nil {
		return Config{}, errors.New("run this from the repository root (go.mod not found)")
	}
	data, err := os.ReadFile("app.json")
	if err != nil {
		return Config{}, err
	}
	meta, err := app.Parse(data)
	if err != nil {
		return Config{}, err
	}
	cfg := Config{Meta: meta, ArtifactType: meta.ArtifactType, Version: meta.Version, GoCmd: "go"}
	if v := strings.TrimSpace(getenv("ARTIFACT_TYPE")); v != "" {
		if !app.ValidArtifactType(v) {
			return Config{}, fmt.Errorf("ARTIFACT_TYPE %q must be web, binary or both", v)
		}
		cfg.ArtifactType = v
	}
	cfg.Platforms, err = ParsePlatforms(getenv("PLATFORMS"), meta.Platforms)
	if err != nil {
		return Config{}, err
	}
	if v := strings.TrimSpace(getenv("VERSION")); v != "" {
		if !app.ValidVersion(v) {
			return Config{}, fmt.Errorf("VERSION %q is not a valid version", v)
		}
		cfg.Version = v
	}
	if v := strings.TrimSpace(getenv("RUN_ID")); v != "" {
		if !runIDRe.MatchString(v) {
			return Config{}, fmt.Errorf("RUN_ID %q is not a valid run id", v)
		}
		cfg.RunID = v
	}
	if v := strings.TrimSpace(getenv("GO")); v != "" {
		cfg.GoCmd = v
	}
	return cfg, nil
}

// ParsePlatforms parses a space or comma separated platform list, falling back to the app.json
// list and then the defaults. Duplicates are dropped; order is kept.
func ParsePlatforms(env string, fromApp []string) ([]string, error) {
	list := strings.FieldsFunc(env, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	if len(list) == 0 {
		list = fromApp
	}
	if len(list) == 0 {
		list = app.DefaultPlatforms
	}
	seen := map[string]bool{}
	out := []string{}
	for _, p := range list {
		if !app.ValidPlatform(p) {
			return nil, fmt.Errorf("platform %q must be one of linux|darwin|windows - amd64|arm64", p)
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}

func build() error {
	cfg, err := LoadConfig(os.Getenv)
	if err != nil {
		return err
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if err := os.RemoveAll(distDir); err != nil {
		return err
	}
	if err := os.MkdirAll(distDir, 0o755); err != nil {
		return err
	}
	manifest := Manifest{SchemaVersion: 1, RunID: cfg.RunID, Artifacts: []Entry{}}

	if cfg.ArtifactType == app.ArtifactWeb || cfg.ArtifactType == app.ArtifactBoth {
		entry, err := buildWeb(cfg, webDir, filepath.Join(distDir, "web"))
		if err != nil {
			return err
		}
		manifest.Artifacts = append(manifest.Artifacts, entry)
		fmt.Printf("build: web app -> dist/web (%d bytes)\n", entry.SizeBytes)
	}
	if cfg.ArtifactType == app.ArtifactBinary || cfg.ArtifactType == app.ArtifactBoth {
		for _, platform := range cfg.Platforms {
			entry, err := buildBinary(cfg, root, platform)
			if err != nil {
				return err
			}
			manifest.Artifacts = append(manifest.Artifacts, entry)
			fmt.Printf("build: %s -> dist/%s (%d bytes)\n", platform, entry.Path, entry.SizeBytes)
		}
	}
	if err := WriteManifest(filepath.Join(distDir, manifestName), manifest); err != nil {
		return err
	}
	fmt.Printf("build: wrote dist/%s with %d artifact(s)\n", manifestName, len(manifest.Artifacts))
	return nil
}

// WriteManifest writes the manifest as indented JSON.
func WriteManifest(file string, m Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(data, '\n'), 0o644)
}

// Files that must never be shipped as part of the web app.
var forbiddenWebExt = map[string]bool{
	".go": true, ".ts": true, ".tsx": true, ".jsx": true, ".map": true, ".mod": true, ".sum": true,
	".zip": true, ".tar": true, ".gz": true, ".tgz": true, ".7z": true, ".rar": true, ".sh": true,
}

// buildWeb copies the web app to dst, rendering the placeholders of .html pages, and returns its
// manifest entry.
func buildWeb(cfg Config, src, dst string) (Entry, error) {
	if _, err := os.Stat(filepath.Join(src, "index.html")); err != nil {
		return Entry{}, errors.New("web/index.html is missing")
	}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return os.MkdirAll(dst, 0o755)
		}
		base := d.Name()
		if strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") {
			return fmt.Errorf("web/%s: hidden files are not allowed in the web app", filepath.ToSlash(rel))
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return fmt.Errorf("web/%s: symbolic links are not allowed in the web app", filepath.ToSlash(rel))
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("web/%s: not a regular file", filepath.ToSlash(rel))
		}
		ext := strings.ToLower(filepath.Ext(base))
		if forbiddenWebExt[ext] {
			return fmt.Errorf("web/%s: %s files are source or archives and are never delivered", filepath.ToSlash(rel), ext)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if ext == ".html" {
			data = app.RenderPage(data, cfg.Meta, cfg.Version)
		}
		if ext == ".js" || ext == ".css" {
			if bytes.Contains(data, []byte("sourceMappingURL")) {
				return fmt.Errorf("web/%s: source map references are not allowed", filepath.ToSlash(rel))
			}
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		return Entry{}, err
	}
	digest, size, err := DirDigest(dst)
	if err != nil {
		return Entry{}, err
	}
	return Entry{
		ArtifactID:     "web",
		Kind:           "web",
		Name:           truncate(cfg.Meta.Title, 120),
		Path:           "web",
		SHA256:         digest,
		SizeBytes:      size,
		Entrypoint:     "index.html",
		SourceIncluded: false,
	}, nil
}

// DirDigest returns the sha256 of a directory and the total size of its files. The digest is the
// sha256 of a listing with one line per regular file, sorted by slash-separated relative path
// (byte order):
//
//	<lowercase hex sha256 of the file>  <relative path>\n
//
// which is the output of `find . -type f -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum`
// run inside the directory. Symbolic links and other non-regular files are errors.
func DirDigest(dir string) (string, int64, error) {
	type file struct {
		rel  string
		full string
	}
	var files []file
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files = append(files, file{rel: filepath.ToSlash(rel), full: p})
		return nil
	})
	if err != nil {
		return "", 0, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	listing := sha256.New()
	var total int64
	for _, f := range files {
		sum, size, err := FileDigest(f.full)
		if err != nil {
			return "", 0, err
		}
		total += size
		fmt.Fprintf(listing, "%s  %s\n", sum, f.rel)
	}
	return hex.EncodeToString(listing.Sum(nil)), total, nil
}

// FileDigest returns the sha256 (lowercase hex) and size of a file.
func FileDigest(file string) (string, int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// BinaryName is the file name of the binary for a platform: <name>-<os>-<arch>[.exe].
func BinaryName(name, platform string) string {
	if strings.HasPrefix(platform, "windows-") {
		return name + "-" + platform + ".exe"
	}
	return name + "-" + platform
}

func buildBinary(cfg Config, root, platform string) (Entry, error) {
	goos, goarch, _ := strings.Cut(platform, "-")
	file := BinaryName(cfg.Meta.Name, platform)
	rel := path.Join("bin", file)
	out := filepath.Join(distDir, "bin", file)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return Entry{}, err
	}
	ldflags := "-s -w -X main.version=" + cfg.Version
	cmd := exec.Command(cfg.GoCmd, "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch, "GOWORK=off")
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return Entry{}, fmt.Errorf("go build for %s failed: %v", platform, err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return Entry{}, err
	}
	if bytes.Contains(data, []byte(root)) {
		return Entry{}, fmt.Errorf("%s contains the build directory path; build with -trimpath", rel)
	}
	sum := sha256.Sum256(data)
	return Entry{
		ArtifactID:     "bin-" + platform,
		Kind:           "binary",
		Name:           file,
		Path:           rel,
		SHA256:         hex.EncodeToString(sum[:]),
		SizeBytes:      int64(len(data)),
		Platform:       platform,
		Entrypoint:     file,
		SourceIncluded: false,
	}, nil
}

func truncate(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max])
}

var artifactIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Source files and archives: never present anywhere under dist/.
var forbiddenDistExt = map[string]bool{
	".go": true, ".ts": true, ".tsx": true, ".map": true, ".mod": true, ".sum": true,
	".zip": true, ".tar": true, ".gz": true, ".tgz": true, ".7z": true, ".rar": true,
}

// verify re-checks dist/ against its manifest: entries, sizes, digests, no stray or source
// files, and a --help/--version smoke run of the binary for this machine's platform.
func verify(dist string, out io.Writer) error {
	data, err := os.ReadFile(filepath.Join(dist, manifestName))
	if err != nil {
		return err
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("manifest: %v", err)
	}
	if m.SchemaVersion != 1 {
		return fmt.Errorf("manifest: schema_version %d, want 1", m.SchemaVersion)
	}
	if len(m.Artifacts) == 0 {
		return errors.New("manifest: no artifacts")
	}
	covered := map[string]bool{manifestName: true}
	ids := map[string]bool{}
	hostPlatform := runtime.GOOS + "-" + runtime.GOARCH
	var hostBinary string
	for _, e := range m.Artifacts {
		if !artifactIDRe.MatchString(e.ArtifactID) || ids[e.ArtifactID] {
			return fmt.Errorf("manifest: bad or duplicate artifact_id %q", e.ArtifactID)
		}
		ids[e.ArtifactID] = true
		if e.SourceIncluded {
			return fmt.Errorf("%s: source_included must be false", e.ArtifactID)
		}
		clean := path.Clean(e.Path)
		if clean != e.Path || path.IsAbs(e.Path) || clean == "." || strings.HasPrefix(clean, "..") {
			return fmt.Errorf("%s: path %q must be a clean relative path inside dist/", e.ArtifactID, e.Path)
		}
		full := filepath.Join(dist, filepath.FromSlash(e.Path))
		info, err := os.Lstat(full)
		if err != nil {
			return fmt.Errorf("%s: %v", e.ArtifactID, err)
		}
		var sum string
		var size int64
		switch e.Kind {
		case "web":
			if !info.IsDir() {
				return fmt.Errorf("%s: web artifact must be a directory", e.ArtifactID)
			}
			if e.Entrypoint == "" {
				return fmt.Errorf("%s: web artifact needs an entrypoint", e.ArtifactID)
			}
			if _, err := os.Stat(filepath.Join(full, filepath.FromSlash(e.Entrypoint))); err != nil {
				return fmt.Errorf("%s: entrypoint: %v", e.ArtifactID, err)
			}
			sum, size, err = DirDigest(full)
		case "binary":
			if !info.Mode().IsRegular() {
				return fmt.Errorf("%s: binary must be a regular file", e.ArtifactID)
			}
			if !app.ValidPlatform(e.Platform) {
				return fmt.Errorf("%s: platform %q", e.ArtifactID, e.Platform)
			}
			sum, size, err = FileDigest(full)
			if e.Platform == hostPlatform {
				hostBinary = full
			}
		default:
			return fmt.Errorf("%s: kind %q is not produced by this template", e.ArtifactID, e.Kind)
		}
		if err != nil {
			return fmt.Errorf("%s: %v", e.ArtifactID, err)
		}
		if sum != e.SHA256 || size != e.SizeBytes {
			return fmt.Errorf("%s: sha256/size do not match the files", e.ArtifactID)
		}
		covered[e.Path] = true
	}
	err = filepath.WalkDir(dist, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dist, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return fmt.Errorf("dist/%s: symbolic link", rel)
		}
		if strings.HasPrefix(d.Name(), ".") {
			return fmt.Errorf("dist/%s: hidden file", rel)
		}
		if forbiddenDistExt[strings.ToLower(filepath.Ext(d.Name()))] {
			return fmt.Errorf("dist/%s: source files and archives are never delivered", rel)
		}
		if !d.IsDir() && !coveredBy(rel, covered) {
			return fmt.Errorf("dist/%s is not listed in the manifest", rel)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if hostBinary != "" {
		for _, arg := range []string{"--help", "--version"} {
			if err := smoke(hostBinary, arg); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "verify: %s --help and --version ok\n", hostPlatform)
	}
	fmt.Fprintf(out, "verify: ok (%d artifacts)\n", len(m.Artifacts))
	return nil
}

func coveredBy(rel string, covered map[string]bool) bool {
	for p := rel; p != "." && p != "/"; p = path.Dir(p) {
		if covered[p] {
			return true
		}
	}
	return false
}

func smoke(binary, arg string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	abs, err := filepath.Abs(binary)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, abs, arg)
	cmd.Stdin = nil
	output, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("smoke %s %s: %v", filepath.Base(binary), arg, err)
	}
	if len(bytes.TrimSpace(output)) == 0 {
		return fmt.Errorf("smoke %s %s: no output", filepath.Base(binary), arg)
	}
	return nil
}
