// Package tool is the countdown timer.
package tool

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Summary is one line shown in --help next to the default action.
const Summary = "count down a time and say when it is up"

// Usage describes the default action's options and examples ({name} becomes the binary name).
const Usage = `
Options:
  --message TEXT   what to print when the time is up (default "Time is up!")
  --quiet          print only the final message

Input is the time: 90 (seconds), 1:30, 1:02:03, 25m, 1h30m or 45s. At most 24 hours.

Examples:
  {name} 25m
  {name} 1:30 --message "Tea is ready"
`

// MaxDuration is the longest countdown.
const MaxDuration = 24 * time.Hour

var clockRe = regexp.MustCompile(`^(\d+):([0-5]?\d)(?::([0-5]?\d))?$`)

// ParseDuration reads "90" (seconds), "1:30" (m:ss), "1:02:03" (h:mm:ss) or Go-style "1h30m".
func ParseDuration(s string) (time.Duration, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	var d time.Duration
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		d = time.Duration(n * float64(time.Second))
	} else if m := clockRe.FindStringSubmatch(s); m != nil {
		a, _ := strconv.Atoi(m[1])
		b, _ := strconv.Atoi(m[2])
		if m[3] == "" {
			d = time.Duration(a)*time.Minute + time.Duration(b)*time.Second
		} else {
			c, _ := strconv.Atoi(m[3])
			d = time.Duration(a)*time.Hour + time.Duration(b)*time.Minute + time.Duration(c)*time.Second
		}
	} else if parsed, err := time.ParseDuration(strings.ReplaceAll(s, " ", "")); err == nil {
		d = parsed
	} else {
		return 0, fmt.Errorf("%q is not a time: use 90, 1:30, 25m or 1h30m", s)
	}
	if d <= 0 || d > MaxDuration {
		return 0, errors.New("the time must be more than 0 and at most 24 hours")
	}
	return d.Round(time.Second), nil
}

// FormatRemaining shows a duration as mm:ss, or h:mm:ss from one hour on, rounded up to seconds.
func FormatRemaining(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	total := int64((d + time.Second - 1) / time.Second)
	h, m, s := total/3600, total/60%60, total%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%02d:%02d", m, s)
}

// Clock abstracts time for tests.
type Clock interface {
	Now() time.Time
	Sleep(time.Duration)
}

type realClock struct{}

func (realClock) Now() time.Time        { return time.Now() }
func (realClock) Sleep(d time.Duration) { time.Sleep(d) }

// Countdown counts down total, printing the remaining time every second on a terminal (one line
// updated in place) or, when the output is not a terminal, every second in the last minute and
// every minute before that; then prints the message.
func Countdown(total time.Duration, message string, quiet, terminal bool, clock Clock, out io.Writer) {
	start := clock.Now()
	deadline := start.Add(total)
	for step := time.Duration(0); step < total; step += time.Second {
		remaining := total - step
		if !quiet {
			switch {
			case terminal:
				fmt.Fprintf(out, "\r%s ", FormatRemaining(remaining))
			case remaining <= time.Minute || remaining%time.Minute == 0 || step == 0:
				fmt.Fprintln(out, FormatRemaining(remaining))
			}
		}
		next := start.Add(step + time.Second)
		if next.After(deadline) {
			next = deadline
		}
		if wait := next.Sub(clock.Now()); wait > 0 {
			clock.Sleep(wait)
		}
	}
	if terminal && !quiet {
		fmt.Fprint(out, "\r00:00 \n")
	}
	if terminal {
		message += "\a"
	}
	fmt.Fprintln(out, message)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// Run is the default action: args are the command-line arguments after the program name, in is
// piped standard input (nil when there is none), out receives the result.
func Run(args []string, in io.Reader, out io.Writer) error {
	return run(args, out, realClock{}, isTerminal(out))
}

func run(args []string, out io.Writer, clock Clock, terminal bool) error {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	message := fs.String("message", "Time is up!", "")
	quiet := fs.Bool("quiet", false, "")
	// Accept flags after the time too: "1:30 --message Tea".
	var positional []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(positional) == 0 {
		return errors.New("give the time to count down, for example 25m or 1:30")
	}
	d, err := ParseDuration(strings.Join(positional, ""))
	if err != nil {
		return err
	}
	msg := strings.Map(func(r rune) rune {
		if r < 32 || r == 127 {
			return ' '
		}
		return r
	}, strings.TrimSpace(*message))
	if msg == "" {
		msg = "Time is up!"
	}
	Countdown(d, msg, *quiet, terminal, clock, out)
	return nil
}
