package system_test

import (
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// Where the spec and the routes it describes are, from this package's directory (the
// directory go test runs a package's tests in).
const (
	specPath     = "../docs/openapi.yaml"
	transportDir = "../transport"
)

// subtreeMethods are the methods the spec must list for a route registered without a method
// (a subtree such as "/api/"), which answers every method alike.
var subtreeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete}

// loadSpec loads docs/openapi.yaml and validates it as an OpenAPI document.
func loadSpec(tb testing.TB) *openapi3.T {
	tb.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(specPath)
	if err != nil {
		tb.Fatalf("load %s: %v", specPath, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		tb.Fatalf("validate %s: %v", specPath, err)
	}
	return doc
}

// muxRoute is one route the transport registers on its mux.
type muxRoute struct {
	// method is the pattern's method; empty when the pattern has none (every method).
	method string
	// path is the pattern's path; one ending in "/" is a subtree.
	path string
	// perm is what the handler asks of the caller: none (no credential), any (a
	// credential), or the permission it needs (read, write, admin). Empty when the handler
	// that s.api wraps is itself wrapped (its own check is unknown here): the spec's
	// x-permission is then left to the engine tests.
	perm string
	// at is the registration's file and line, for messages.
	at string
	// exact marks a pattern ending in "{$}": it serves its path alone, not a subtree.
	exact bool
}

func (r muxRoute) String() string {
	if r.method == "" {
		return r.path + " (" + r.at + ")"
	}
	return r.method + " " + r.path + " (" + r.at + ")"
}

// subtree reports whether the route serves every path under its own.
func (r muxRoute) subtree() bool { return !r.exact && strings.HasSuffix(r.path, "/") }

// specOp is one operation of the spec.
type specOp struct {
	method, path, perm string
}

// specOps lists the spec's operations with their x-permission.
func specOps(tb testing.TB, doc *openapi3.T) []specOp {
	tb.Helper()
	var out []specOp
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			perm, _ := op.Extensions["x-permission"].(string)
			if perm == "" {
				tb.Errorf("spec: %s %s has no x-permission", method, path)
			}
			out = append(out, specOp{method: method, path: path, perm: perm})
		}
	}
	return out
}

// registeredRoutes parses the transport's sources and returns every pattern registered with
// Handle or HandleFunc, with the permission its handler asks for. A registration it cannot
// read (a pattern that is not a string literal, a handler of an unknown shape) fails tb:
// the test must then learn the new shape rather than skip the route.
func registeredRoutes(tb testing.TB) []muxRoute {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(transportDir, "*.go"))
	if err != nil {
		tb.Fatalf("list %s: %v", transportDir, err)
	}
	fset := gotoken.NewFileSet()
	var out []muxRoute
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			tb.Fatalf("parse %s: %v", name, err)
		}
		out = append(out, fileRoutes(tb, fset, f)...)
	}
	if len(out) == 0 {
		tb.Fatalf("no mux registration found in %s: has the routing moved?", transportDir)
	}
	return out
}

// fileRoutes returns the routes registered in one file.
func fileRoutes(tb testing.TB, fset *gotoken.FileSet, f *ast.File) []muxRoute {
	tb.Helper()
	// Wrappers such as `admin := func(h apiHandler) http.HandlerFunc { ... }`, by name.
	wrappers := map[string]*ast.FuncLit{}
	ast.Inspect(f, func(n ast.Node) bool {
		if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == len(as.Rhs) {
			for i, lhs := range as.Lhs {
				id, okID := lhs.(*ast.Ident)
				fl, okFn := as.Rhs[i].(*ast.FuncLit)
				if okID && okFn {
					wrappers[id.Name] = fl
				}
			}
		}
		return true
	})

	var out []muxRoute
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") ||
			len(call.Args) != 2 {
			return true
		}
		at := fset.Position(call.Pos()).String()
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != gotoken.STRING {
			tb.Errorf("%s: the pattern is not a string literal; teach this test to read it", at)
			return true
		}
		pattern, err := strconv.Unquote(lit.Value)
		if err != nil {
			tb.Errorf("%s: pattern %s: %v", at, lit.Value, err)
			return true
		}
		r := muxRoute{path: pattern, at: filepath.Base(at)}
		if m, p, found := strings.Cut(pattern, " "); found {
			r.method, r.path = m, strings.TrimSpace(p)
		}
		// "/{$}" is net/http's pattern for the path "/" alone.
		if p, exact := strings.CutSuffix(r.path, "{$}"); exact {
			r.path, r.exact = p, true
		}
		if !strings.HasPrefix(r.path, "/") {
			tb.Errorf("%s: pattern %q names a host or is not a path", at, pattern)
			return true
		}
		r.perm = handlerPerm(tb, at, call.Args[1], wrappers)
		out = append(out, r)
		return true
	})
	return out
}

// handlerPerm tells what a registered handler asks of its caller: a method value (a plain
// handler) asks nothing; s.api(PERM, h) and a wrapper that calls it ask for PERM.
func handlerPerm(tb testing.TB, at string, h ast.Expr, wrappers map[string]*ast.FuncLit) string {
	tb.Helper()
	switch e := h.(type) {
	case *ast.SelectorExpr:
		return "none"
	case *ast.CallExpr:
		if sel, ok := e.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "api" && len(e.Args) == 2 {
			return apiPerm(tb, at, e)
		}
		if id, ok := e.Fun.(*ast.Ident); ok && wrappers[id.Name] != nil {
			perm, found := "", false
			ast.Inspect(wrappers[id.Name].Body, func(n ast.Node) bool {
				if c, ok := n.(*ast.CallExpr); ok && perm == "" {
					sel, isSel := c.Fun.(*ast.SelectorExpr)
					if isSel && sel.Sel.Name == "api" && len(c.Args) == 2 {
						perm, found = apiPerm(tb, at, c), true
					}
				}
				return !found
			})
			if found {
				return perm
			}
		}
	}
	tb.Errorf("%s: cannot tell what the handler asks of its caller; teach this test", at)
	return ""
}

// apiPerm reads a call s.api(PERM, h): PERM, or "" when h is a call, a further wrapper
// whose own check this test cannot read.
func apiPerm(tb testing.TB, at string, call *ast.CallExpr) string {
	tb.Helper()
	perm := permArg(tb, at, call.Args[0])
	if _, wrapped := call.Args[1].(*ast.CallExpr); wrapped {
		return ""
	}
	return perm
}

// permArg reads the permission argument of s.api: "" or auth.PermX.
func permArg(tb testing.TB, at string, e ast.Expr) string {
	tb.Helper()
	switch a := e.(type) {
	case *ast.BasicLit:
		if a.Value == `""` {
			return "any"
		}
	case *ast.SelectorExpr:
		if name, ok := strings.CutPrefix(a.Sel.Name, "Perm"); ok && name != "" {
			return strings.ToLower(name)
		}
	}
	tb.Errorf("%s: cannot read the permission argument; teach this test", at)
	return ""
}

// subtreeItem returns the spec path that stands for the subtree prefix: the prefix followed
// by one path parameter, such as /api/{route} for /api/.
func subtreeItem(doc *openapi3.T, prefix string) (string, *openapi3.PathItem) {
	for path, item := range doc.Paths.Map() {
		rest, ok := strings.CutPrefix(path, prefix)
		if ok && strings.HasPrefix(rest, "{") && strings.HasSuffix(rest, "}") &&
			strings.Count(rest, "{") == 1 && !strings.Contains(rest, "/") {
			return path, item
		}
	}
	return "", nil
}

// TestOpenAPICoversEveryRoute checks that docs/openapi.yaml is a valid OpenAPI document and
// that it and the transport's mux list the same routes, with the same permissions: a route
// added without a spec entry, or a spec entry for a route that is gone, fails here.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	doc := loadSpec(t)
	routes := registeredRoutes(t)
	ops := specOps(t, doc)

	for _, r := range routes {
		if !r.subtree() {
			item := doc.Paths.Value(r.path)
			if item == nil || r.method == "" || item.GetOperation(r.method) == nil {
				t.Errorf("route %v: the spec has no %s %s", r, r.method, r.path)
				continue
			}
			got := item.GetOperation(r.method).Extensions["x-permission"]
			if r.perm != "" && got != r.perm {
				t.Errorf("route %v: spec x-permission %v, want %q", r, got, r.perm)
			}
			continue
		}
		path, item := subtreeItem(doc, r.path)
		if item == nil {
			t.Errorf("route %v: the spec has no %s{param} path for the subtree", r, r.path)
			continue
		}
		methods := subtreeMethods
		if r.method != "" {
			methods = []string{r.method}
		}
		for _, m := range methods {
			op := item.GetOperation(m)
			if op == nil {
				t.Errorf("route %v: the spec has no %s %s", r, m, path)
				continue
			}
			if got := op.Extensions["x-permission"]; r.perm != "" && got != r.perm {
				t.Errorf("route %v: spec %s %s x-permission %v, want %q", r, m, path, got,
					r.perm)
			}
		}
	}

	for _, op := range ops {
		served := slices.ContainsFunc(routes, func(r muxRoute) bool {
			if r.method != "" && r.method != op.method {
				return false
			}
			if !r.subtree() {
				return r.path == op.path
			}
			path, _ := subtreeItem(doc, r.path)
			return path == op.path
		})
		if !served {
			t.Errorf("spec: %s %s is served by no route of %s", op.method, op.path,
				transportDir)
		}
	}
}
