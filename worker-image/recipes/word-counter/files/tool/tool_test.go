package tool

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAnalyze(t *testing.T) {
	s := Analyze("Hello world. This is a test.", 200)
	want := Stats{Words: 6, Characters: 28, CharactersNoSpaces: 23, Sentences: 2, Paragraphs: 1, Lines: 1, ReadingMinutes: 1}
	if s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
	s = Analyze("First paragraph, line one.\nLine two — don't stop!\n\n\nSecond well-known paragraph?\r\n", 200)
	if s.Words != 11 || s.Sentences != 3 || s.Paragraphs != 2 || s.Lines != 3 {
		t.Errorf("multi-paragraph: %+v", s)
	}
	if s := Analyze("", 200); s != (Stats{}) {
		t.Errorf("empty: %+v", s)
	}
	if s := Analyze("Ünïcödé wörds ✓", 200); s.Words != 2 || s.Characters != 15 {
		t.Errorf("unicode: %+v", s)
	}
	if s := Analyze(strings.Repeat("word ", 401), 200); s.ReadingMinutes != 3 {
		t.Errorf("401 words at 200 wpm = %d min, want 3", s.ReadingMinutes)
	}
}

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := Run(nil, strings.NewReader("Hello world. This is a test."), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Words:                   6\n", "Sentences:               2\n", "Reading time:            1 min\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	file := filepath.Join(t.TempDir(), "essay.txt")
	if err := os.WriteFile(file, []byte("One two three."), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := Run([]string{"--json", "--file", file}, nil, &out); err != nil {
		t.Fatal(err)
	}
	var s Stats
	if err := json.Unmarshal(out.Bytes(), &s); err != nil || s.Words != 3 {
		t.Errorf("json: %v %s", err, out.String())
	}
	if err := Run(nil, nil, &out); err == nil {
		t.Error("no input should fail")
	}
}
