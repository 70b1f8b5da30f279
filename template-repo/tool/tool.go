// Package tool is the tool-specific logic behind the binary's default action. A new tool replaces
// this package (tool.go and its tests) and the files in web/; the frame calls only Summary, Usage
// and Run.
//
// This skeleton tool changes the letter case of text.
package tool

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Summary is one line shown in --help next to the default action.
const Summary = "change the letter case of text"

// Usage describes the default action's options and examples ({name} becomes the binary name).
const Usage = `
Options:
  --case STYLE   upper, lower, title, sentence, slug, snake or camel (default title)

Input is the text given as arguments, or standard input when no text is given.

Examples:
  {name} --case upper "hello world"       prints HELLO WORLD
  {name} --case slug "Hello, World!"      prints hello-world
  echo "some text" | {name} --case snake  prints some_text
`

// Styles lists the supported case styles.
var Styles = []string{"upper", "lower", "title", "sentence", "slug", "snake", "camel"}

// Run is the default action: args are the command-line arguments after the program name, in is
// piped standard input (nil when there is none), out receives the result.
func Run(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	style := fs.String("case", "title", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	text := strings.Join(fs.Args(), " ")
	if text == "" && in != nil {
		data, err := io.ReadAll(io.LimitReader(in, 10<<20))
		if err != nil {
			return err
		}
		text = strings.TrimRight(string(data), "\r\n")
	}
	if strings.TrimSpace(text) == "" {
		return errors.New("no text given: pass it as arguments or on standard input")
	}
	result, err := Convert(text, *style)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, result)
	return err
}

// Convert changes text to the given case style.
func Convert(text, style string) (string, error) {
	switch style {
	case "upper":
		return strings.ToUpper(text), nil
	case "lower":
		return strings.ToLower(text), nil
	case "title":
		return mapWords(text, func(i int, w string) string { return capitalize(strings.ToLower(w)) }), nil
	case "sentence":
		lower := []rune(strings.ToLower(text))
		start := true
		for i, r := range lower {
			if start && unicode.IsLetter(r) {
				lower[i] = unicode.ToUpper(r)
				start = false
			}
			if r == '.' || r == '!' || r == '?' {
				start = true
			}
		}
		return string(lower), nil
	case "slug":
		return strings.Join(words(strings.ToLower(text)), "-"), nil
	case "snake":
		return strings.Join(words(strings.ToLower(text)), "_"), nil
	case "camel":
		parts := words(strings.ToLower(text))
		for i := 1; i < len(parts); i++ {
			parts[i] = capitalize(parts[i])
		}
		return strings.Join(parts, ""), nil
	}
	return "", fmt.Errorf("unknown case %q: use one of %s", style, strings.Join(Styles, ", "))
}

// words splits text into runs of letters and digits.
func words(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// mapWords applies f to every whitespace-separated word, keeping the whitespace.
func mapWords(text string, f func(i int, w string) string) string {
	var b strings.Builder
	word := []rune{}
	n := 0
	flush := func() {
		if len(word) > 0 {
			b.WriteString(f(n, string(word)))
			n++
			word = word[:0]
		}
	}
	for _, r := range text {
		if unicode.IsSpace(r) {
			flush()
			b.WriteRune(r)
			continue
		}
		word = append(word, r)
	}
	flush()
	return b.String()
}

func capitalize(w string) string {
	r := []rune(w)
	if len(r) == 0 {
		return w
	}
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}
