// Package app holds the application metadata (app.json) shared by the binary frame and the
// build program. It is part of the frame: tool changes never edit this package.
package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Artifact types a build can produce.
const (
	ArtifactWeb    = "web"
	ArtifactBinary = "binary"
	ArtifactBoth   = "both"
)

// DefaultPlatforms are built when neither PLATFORMS nor app.json names any.
var DefaultPlatforms = []string{"linux-amd64", "linux-arm64", "darwin-amd64", "darwin-arm64", "windows-amd64"}

var (
	nameRe     = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$`)
	versionRe  = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+-]{0,39}$`)
	platformRe = regexp.MustCompile(`^(linux|darwin|windows)-(amd64|arm64)$`)
)

// Meta is the content of app.json.
type Meta struct {
	// Name is the binary base name: a slug of [a-z0-9-], at most 40 characters.
	Name string `json:"name"`
	// Title is the human-readable name shown in the web page and in --help (plain text).
	Title string `json:"title"`
	// Description is one or two plain-text sentences.
	Description string `json:"description"`
	// Version is embedded into the binaries (overridable with the VERSION env var at build time).
	Version string `json:"version"`
	// ArtifactType is web, binary or both (overridable with the ARTIFACT_TYPE env var).
	ArtifactType string `json:"artifact_type"`
	// Platforms optionally lists os-arch pairs (overridable with the PLATFORMS env var).
	Platforms []string `json:"platforms,omitempty"`
	// Recipe optionally records which catalog recipe the tool came from.
	Recipe string `json:"recipe,omitempty"`
}

// Parse decodes and validates app.json.
func Parse(data []byte) (Meta, error) {
	var m Meta
	if err := json.Unmarshal(data, &m); err != nil {
		return Meta{}, fmt.Errorf("app.json: %v", err)
	}
	if m.Version == "" {
		m.Version = "0.1.0"
	}
	if m.ArtifactType == "" {
		m.ArtifactType = ArtifactBoth
	}
	if err := m.Validate(); err != nil {
		return Meta{}, err
	}
	return m, nil
}

// Validate checks every field so that metadata can never become a path or markup.
func (m Meta) Validate() error {
	if !nameRe.MatchString(m.Name) {
		return fmt.Errorf("app.json: name %q must be 1-40 characters of a-z, 0-9 and '-', not starting or ending with '-'", m.Name)
	}
	if err := checkText("title", m.Title, 1, 80); err != nil {
		return err
	}
	if err := checkText("description", m.Description, 0, 300); err != nil {
		return err
	}
	if !ValidVersion(m.Version) {
		return fmt.Errorf("app.json: version %q must match %s", m.Version, versionRe.String())
	}
	if !ValidArtifactType(m.ArtifactType) {
		return fmt.Errorf("app.json: artifact_type %q must be web, binary or both", m.ArtifactType)
	}
	for _, p := range m.Platforms {
		if !ValidPlatform(p) {
			return fmt.Errorf("app.json: platform %q must look like linux-amd64", p)
		}
	}
	if m.Recipe != "" && !nameRe.MatchString(m.Recipe) {
		return fmt.Errorf("app.json: recipe %q is not a valid id", m.Recipe)
	}
	return nil
}

func checkText(field, value string, min, max int) error {
	n := utf8.RuneCountInString(value)
	if !utf8.ValidString(value) || n < min || n > max {
		return fmt.Errorf("app.json: %s must be %d-%d characters of valid UTF-8", field, min, max)
	}
	if strings.TrimSpace(value) != value {
		return fmt.Errorf("app.json: %s must not start or end with spaces", field)
	}
	for _, r := range value {
		if unicode.IsControl(r) {
			return fmt.Errorf("app.json: %s must not contain control characters", field)
		}
	}
	return nil
}

// ValidPlatform reports whether p looks like linux-amd64.
func ValidPlatform(p string) bool { return platformRe.MatchString(p) }

// ValidVersion reports whether v is a safe version string.
func ValidVersion(v string) bool { return versionRe.MatchString(v) }

// ValidArtifactType reports whether t is web, binary or both.
func ValidArtifactType(t string) bool {
	return t == ArtifactWeb || t == ArtifactBinary || t == ArtifactBoth
}

// Page placeholders replaced in every .html file of web/, HTML-escaped.
const (
	TitleToken       = "{{APP_TITLE}}"
	DescriptionToken = "{{APP_DESCRIPTION}}"
	VersionToken     = "{{APP_VERSION}}"
)

// RenderPage replaces the placeholders in an HTML page with HTML-escaped metadata. Visitor text
// reaches the page only through here.
func RenderPage(src []byte, m Meta, version string) []byte {
	r := strings.NewReplacer(
		TitleToken, html.EscapeString(m.Title),
		DescriptionToken, html.EscapeString(m.Description),
		VersionToken, html.EscapeString(version),
	)
	var out bytes.Buffer
	out.Grow(len(src) + 64)
	_, _ = r.WriteString(&out, string(src))
	return out.Bytes()
}
