// Command main is the frame of the tool binary: --help, --version, serve and the dispatch to the
// tool's default action. The tool itself lives in ./tool and the web app in ./web; this file is
// part of the frame and is not edited for a new tool (see AGENTS.md).
package main

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"strings"

	"artifact/internal/app"
	"artifact/tool"
)

//go:embed app.json
var appJSON []byte

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	var in io.Reader = os.Stdin
	if stdinIsTerminal() {
		in = nil // no piped input: tools fall back to their arguments or print usage
	}
	os.Exit(run(os.Args[1:], in, os.Stdout, os.Stderr))
}

func stdinIsTerminal() bool {
	info, err := os.Stdin.Stat()
	return err != nil || info.Mode()&os.ModeCharDevice != 0
}

// run executes the command line and returns the process exit code.
func run(args []string, in io.Reader, out, errOut io.Writer) int {
	meta, err := app.Parse(appJSON)
	if err != nil {
		fmt.Fprintln(errOut, "error:", err)
		return 1
	}
	if len(args) > 0 {
		switch args[0] {
		case "serve":
			return serve(args[1:], meta, out, errOut)
		case "help":
			printHelp(out, meta)
			return 0
		case "version":
			printVersion(out, meta)
			return 0
		}
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		switch a {
		case "-h", "-help", "--help":
			printHelp(out, meta)
			return 0
		case "-version", "--version":
			printVersion(out, meta)
			return 0
		}
	}
	if err := tool.Run(args, in, out); err != nil {
		fmt.Fprintln(errOut, "error:", err)
		fmt.Fprintf(errOut, "Run '%s --help' for usage.\n", meta.Name)
		return 1
	}
	return 0
}

func printVersion(out io.Writer, meta app.Meta) {
	fmt.Fprintf(out, "%s %s\n", meta.Name, version)
}

func printHelp(out io.Writer, meta app.Meta) {
	fmt.Fprintf(out, "%s %s\n", meta.Title, version)
	if meta.Description != "" {
		fmt.Fprintf(out, "%s\n", meta.Description)
	}
	fmt.Fprintf(out, `
Usage:
  %[1]s [options] [input]      %[2]s
  %[1]s serve [--addr ADDR]    open the web app at http://ADDR/ (default 127.0.0.1:8080)
  %[1]s --version              print the version
  %[1]s --help                 show this help

`, meta.Name, tool.Summary)
	fmt.Fprintln(out, strings.TrimSpace(strings.ReplaceAll(tool.Usage, "{name}", meta.Name)))
}
