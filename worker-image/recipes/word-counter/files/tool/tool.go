// Package tool is the word counter: words, characters, sentences, paragraphs and reading time.
package tool

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Summary is one line shown in --help next to the default action.
const Summary = "count the words and characters of a text"

// Usage describes the default action's options and examples ({name} becomes the binary name).
const Usage = `
Options:
  --file PATH   read the text from a file
  --wpm N       reading speed in words per minute (default 200)
  --json        print the counts as JSON

Input is the text given as arguments, the file, or standard input.

Examples:
  {name} "The quick brown fox jumps over the lazy dog."
  {name} --file essay.txt
  cat notes.txt | {name} --json
`

// Stats are the counts of a text.
type Stats struct {
	Words              int `json:"words"`
	Characters         int `json:"characters"`
	CharactersNoSpaces int `json:"characters_no_spaces"`
	Sentences          int `json:"sentences"`
	Paragraphs         int `json:"paragraphs"`
	Lines              int `json:"lines"`
	ReadingMinutes     int `json:"reading_minutes"`
}

func hasWordChar(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

// Analyze counts a text. A word is a run of non-space characters containing a letter or digit
// ("don't" and "well-known" are one word each); a sentence ends with . ! or ?; paragraphs are
// separated by blank lines; reading time is rounded up to whole minutes at wpm words a minute.
func Analyze(text string, wpm int) Stats {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	var s Stats
	for _, f := range strings.Fields(text) {
		if hasWordChar(f) {
			s.Words++
		}
	}
	s.Characters = utf8.RuneCountInString(text)
	for _, r := range text {
		if !unicode.IsSpace(r) {
			s.CharactersNoSpaces++
		}
	}
	for _, part := range strings.FieldsFunc(text, func(r rune) bool { return r == '.' || r == '!' || r == '?' || r == '…' }) {
		if hasWordChar(part) {
			s.Sentences++
		}
	}
	para := false
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			para = false
			continue
		}
		s.Lines++
		if !para {
			s.Paragraphs++
			para = true
		}
	}
	if wpm <= 0 {
		wpm = 200
	}
	s.ReadingMinutes = (s.Words + wpm - 1) / wpm
	return s
}

// Run is the default action: args are the command-line arguments after the program name, in is
// piped standard input (nil when there is none), out receives the result.
func Run(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	file := fs.String("file", "", "")
	wpm := fs.Int("wpm", 200, "")
	asJSON := fs.Bool("json", false, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *wpm < 1 || *wpm > 2000 {
		return errors.New("the reading speed must be between 1 and 2000 words a minute")
	}
	var text string
	switch {
	case *file != "":
		data, err := os.ReadFile(*file)
		if err != nil {
			return fmt.Errorf("cannot read the file: %v", err)
		}
		text = string(data)
	case fs.NArg() > 0:
		text = strings.Join(fs.Args(), " ")
	case in != nil:
		data, err := io.ReadAll(io.LimitReader(in, 64<<20))
		if err != nil {
			return err
		}
		text = string(data)
	default:
		return errors.New("give a text as arguments, with --file, or on standard input")
	}
	if !utf8.ValidString(text) {
		return errors.New("the input is not UTF-8 text")
	}
	s := Analyze(text, *wpm)
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	row := func(label string, v int) { fmt.Fprintf(out, "%-25s%d\n", label, v) }
	row("Words:", s.Words)
	row("Characters:", s.Characters)
	row("Characters (no spaces):", s.CharactersNoSpaces)
	row("Sentences:", s.Sentences)
	row("Paragraphs:", s.Paragraphs)
	row("Lines:", s.Lines)
	fmt.Fprintf(out, "%-25s%d min\n", "Reading time:", s.ReadingMinutes)
	return nil
}
