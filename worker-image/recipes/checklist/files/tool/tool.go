// Package tool is the checklist: items kept in a small JSON file.
package tool

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Summary is one line shown in --help next to the default action.
const Summary = "keep a checklist: add, tick off and remove items"

// Usage describes the default action's options and examples ({name} becomes the binary name).
const Usage = `
Options:
  --file PATH   where the list is kept (default checklist.json in the current folder)

Commands:
  list               show the list (the default)
  add TEXT           add an item
  done N...          tick off items by number
  undo N...          untick items
  remove N...        delete items
  clear-done         delete every ticked item

Examples:
  {name} add "Buy milk"
  {name} done 1
  {name} --file trip.json add Passport
`

// MaxItems and MaxText bound the list.
const (
	MaxItems = 1000
	MaxText  = 500
)

// Item is one entry of the checklist.
type Item struct {
	Text string `json:"text"`
	Done bool   `json:"done"`
}

// List is the checklist.
type List struct {
	Items []Item `json:"items"`
}

// Load reads a list; a missing file is an empty list.
func Load(file string) (List, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return List{Items: []Item{}}, nil
	}
	if err != nil {
		return List{}, fmt.Errorf("cannot read the list: %v", err)
	}
	var l List
	if err := json.Unmarshal(data, &l); err != nil {
		return List{}, fmt.Errorf("the list file is damaged: %v", err)
	}
	if l.Items == nil {
		l.Items = []Item{}
	}
	return l, nil
}

// Save writes a list atomically (temporary file, then rename).
func Save(file string, l List) error {
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".checklist-*")
	if err != nil {
		return fmt.Errorf("cannot save the list: %v", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

// Add appends an item.
func (l *List) Add(text string) error {
	text = strings.Join(strings.Fields(text), " ")
	if text == "" {
		return errors.New("the item is empty")
	}
	if utf8.RuneCountInString(text) > MaxText {
		return fmt.Errorf("an item can have at most %d characters", MaxText)
	}
	if len(l.Items) >= MaxItems {
		return fmt.Errorf("the list is full (%d items)", MaxItems)
	}
	l.Items = append(l.Items, Item{Text: text})
	return nil
}

func (l *List) indexes(args []string) ([]int, error) {
	if len(args) == 0 {
		return nil, errors.New("give the item number, as shown by list")
	}
	seen := map[int]bool{}
	var out []int
	for _, a := range args {
		n, err := strconv.Atoi(strings.TrimSuffix(a, "."))
		if err != nil || n < 1 || n > len(l.Items) {
			return nil, fmt.Errorf("there is no item %s", a)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n-1)
		}
	}
	return out, nil
}

// SetDone ticks or unticks items by 1-based number.
func (l *List) SetDone(numbers []string, done bool) error {
	idx, err := l.indexes(numbers)
	if err != nil {
		return err
	}
	for _, i := range idx {
		l.Items[i].Done = done
	}
	return nil
}

// Remove deletes items by 1-based number.
func (l *List) Remove(numbers []string) error {
	idx, err := l.indexes(numbers)
	if err != nil {
		return err
	}
	drop := map[int]bool{}
	for _, i := range idx {
		drop[i] = true
	}
	kept := l.Items[:0]
	for i, it := range l.Items {
		if !drop[i] {
			kept = append(kept, it)
		}
	}
	l.Items = kept
	return nil
}

// ClearDone deletes the ticked items and returns how many.
func (l *List) ClearDone() int {
	kept := l.Items[:0]
	for _, it := range l.Items {
		if !it.Done {
			kept = append(kept, it)
		}
	}
	n := len(l.Items) - len(kept)
	l.Items = kept
	return n
}

// Format prints the list with numbers and a summary line.
func (l List) Format() string {
	if len(l.Items) == 0 {
		return "The checklist is empty. Add an item with: add TEXT\n"
	}
	var b strings.Builder
	done := 0
	for i, it := range l.Items {
		mark := " "
		if it.Done {
			mark = "x"
			done++
		}
		fmt.Fprintf(&b, "%d. [%s] %s\n", i+1, mark, it.Text)
	}
	fmt.Fprintf(&b, "%d of %d done\n", done, len(l.Items))
	return b.String()
}

// Run is the default action: args are the command-line arguments after the program name, in is
// piped standard input (nil when there is none), out receives the result.
func Run(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	file := fs.String("file", "checklist.json", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cmd, rest := "list", []string{}
	if fs.NArg() > 0 {
		cmd, rest = fs.Arg(0), fs.Args()[1:]
	}
	l, err := Load(*file)
	if err != nil {
		return err
	}
	changed := true
	switch cmd {
	case "list", "ls":
		changed = false
	case "add":
		err = l.Add(strings.Join(rest, " "))
	case "done", "check", "tick":
		err = l.SetDone(rest, true)
	case "undo", "uncheck", "untick":
		err = l.SetDone(rest, false)
	case "remove", "rm", "delete":
		err = l.Remove(rest)
	case "clear-done":
		n := l.ClearDone()
		fmt.Fprintf(out, "Removed %d finished item(s).\n", n)
	default:
		return fmt.Errorf("unknown command %q: use list, add, done, undo, remove or clear-done", cmd)
	}
	if err != nil {
		return err
	}
	if changed {
		if err := Save(*file, l); err != nil {
			return err
		}
	}
	_, err = io.WriteString(out, l.Format())
	return err
}
