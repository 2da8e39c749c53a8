//! Static analysis of one template: which variables it reads (with their
//! byte ranges and whether a `default`, `if` or `is defined` guards them),
//! which filters, tests and functions it calls, and which templates it
//! includes or extends. The checker resolves the references against the
//! context of every message that uses the template.
//!
//! minijinja's `undeclared_variables` gives names without positions or
//! guards, so this walks minijinja's own AST (the `unstable_machinery`
//! feature, pinned to one minijinja version in Cargo.toml).

use std::collections::HashSet;

use minijinja::machinery::ast::{self, CallArg, Expr, Stmt};

/// A byte range in the template's source.
pub type Range = std::ops::Range<usize>;

/// One read of a context variable: `contact.first_name` is `["contact", "first_name"]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub path: Vec<String>,
    pub range: Range,
    /// Read under a `default`, an `if` on it, or an `is defined` test.
    pub guarded: bool,
}

impl Reference {
    pub fn dotted(&self) -> String {
        self.path.join(".")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallableKind {
    Filter,
    Test,
    Function,
}

impl CallableKind {
    pub fn noun(self) -> &'static str {
        match self {
            CallableKind::Filter => "filter",
            CallableKind::Test => "test",
            CallableKind::Function => "function",
        }
    }
}

/// What a template reads and calls.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    pub references: Vec<Reference>,
    pub callables: Vec<(CallableKind, String, Range)>,
    /// Templates named literally in `include`, `extends`, `import` and `from`.
    pub includes: Vec<(String, Range)>,
    /// Each filter applied to an expression: its name and where that
    /// expression is (whether what it filters is guarded depends on it).
    pub filtered: Vec<(String, Range)>,
}

/// Filters that make a missing value safe.
const GUARDING_FILTERS: [&str; 3] = ["default", "d", "greeting_name"];
/// Tests that ask whether a value is there.
const GUARDING_TESTS: [&str; 4] = ["defined", "undefined", "none", "none_or_undefined"];
/// Names the engine defines inside templates.
const ENGINE_NAMES: [&str; 5] = ["loop", "self", "super", "caller", "varargs"];

/// Analyses a parsed template.
pub fn analyse(template: &Stmt<'_>) -> Analysis {
    let mut walker = Walker {
        analysis: Analysis::default(),
        locals: vec![ENGINE_NAMES.iter().map(|n| n.to_string()).collect()],
        guards: Vec::new(),
    };
    walker.statement(template);
    walker.analysis
}

fn range(span: minijinja::machinery::Span) -> Range {
    span.start_offset as usize..span.end_offset as usize
}

struct Walker {
    analysis: Analysis,
    locals: Vec<HashSet<String>>,
    /// Paths known to be present in the current branch (`{% if contact.city %}`).
    guards: Vec<Vec<Vec<String>>>,
}

impl Walker {
    fn is_local(&self, name: &str) -> bool {
        self.locals.iter().any(|scope| scope.contains(name))
    }

    fn assign(&mut self, target: &Expr<'_>) {
        match target {
            Expr::Var(var) => {
                if let Some(scope) = self.locals.last_mut() {
                    scope.insert(var.id.to_string());
                }
            }
            Expr::List(list) => list.items.iter().for_each(|item| self.assign(item)),
            Expr::Tuple(tuple) => tuple.items.iter().for_each(|item| self.assign(item)),
            // `{% set ns.count = 1 %}` assigns into an existing namespace.
            other => self.expression(other, false),
        }
    }

    fn is_guarded_path(&self, path: &[String]) -> bool {
        self.guards
            .iter()
            .flatten()
            .any(|guard| path.starts_with(guard) && !guard.is_empty())
    }

    fn body(&mut self, statements: &[Stmt<'_>]) {
        for statement in statements {
            self.statement(statement);
        }
    }

    fn scoped(&mut self, f: impl FnOnce(&mut Walker)) {
        self.locals.push(HashSet::new());
        f(self);
        self.locals.pop();
    }

    fn statement(&mut self, statement: &Stmt<'_>) {
        match statement {
            Stmt::Template(template) => self.body(&template.children),
            Stmt::EmitExpr(emit) => self.expression(&emit.expr, false),
            Stmt::EmitRaw(_) => {}
            Stmt::ForLoop(for_loop) => {
                self.expression(&for_loop.iter, false);
                self.scoped(|walker| {
                    walker.assign(&for_loop.target);
                    if let Some(filter) = &for_loop.filter_expr {
                        walker.expression(filter, true);
                    }
                    walker.body(&for_loop.body);
                });
                self.body(&for_loop.else_body);
            }
            Stmt::IfCond(condition) => {
                self.expression(&condition.expr, true);
                let present = present_paths(&condition.expr);
                self.guards.push(present);
                self.body(&condition.true_body);
                self.guards.pop();
                self.body(&condition.false_body);
            }
            Stmt::WithBlock(with) => {
                for (_, value) in &with.assignments {
                    self.expression(value, false);
                }
                self.scoped(|walker| {
                    for (target, _) in &with.assignments {
                        walker.assign(target);
                    }
                    walker.body(&with.body);
                });
            }
            Stmt::Set(set) => {
                self.expression(&set.expr, false);
                self.assign(&set.target);
            }
            Stmt::SetBlock(set) => {
                if let Some(filter) = &set.filter {
                    self.expression(filter, false);
                }
                self.body(&set.body);
                self.assign(&set.target);
            }
            Stmt::AutoEscape(block) => {
                self.expression(&block.enabled, false);
                self.body(&block.body);
            }
            Stmt::FilterBlock(block) => {
                self.expression(&block.filter, false);
                self.body(&block.body);
            }
            Stmt::Block(block) => self.body(&block.body),
            Stmt::Import(import) => {
                self.include_name(&import.expr);
                self.assign(&import.name);
            }
            Stmt::FromImport(import) => {
                self.include_name(&import.expr);
                for (name, alias) in &import.names {
                    self.assign(alias.as_ref().unwrap_or(name));
                }
            }
            Stmt::Extends(extends) => self.include_name(&extends.name),
            Stmt::Include(include) => self.include_name(&include.name),
            Stmt::Macro(definition) => {
                if let Some(scope) = self.locals.last_mut() {
                    scope.insert(definition.name.to_string());
                }
                self.macro_body(definition);
            }
            Stmt::CallBlock(block) => {
                self.call(&block.call);
                self.scoped(|walker| {
                    if let Some(scope) = walker.locals.last_mut() {
                        scope.insert("caller".to_string());
                    }
                    walker.macro_body(&block.macro_decl);
                });
            }
            Stmt::Do(call) => self.call(&call.call),
        }
    }

    fn macro_body(&mut self, definition: &ast::Macro<'_>) {
        for default in &definition.defaults {
            self.expression(default, false);
        }
        self.scoped(|walker| {
            for argument in &definition.args {
                walker.assign(argument);
            }
            walker.body(&definition.body);
        });
    }

    fn include_name(&mut self, name: &Expr<'_>) {
        match name {
            Expr::Const(constant) => {
                if let Some(text) = constant.value.as_str() {
                    self.analysis
                        .includes
                        .push((text.to_string(), range(constant.span())));
                }
            }
            Expr::List(list) => list.items.iter().for_each(|item| self.include_name(item)),
            other => self.expression(other, false),
        }
    }

    fn arguments(&mut self, arguments: &[CallArg<'_>], guarded: bool) {
        for argument in arguments {
            match argument {
                CallArg::Pos(expr)
                | CallArg::Kwarg(_, expr)
                | CallArg::PosSplat(expr)
                | CallArg::KwargSplat(expr) => self.expression(expr, guarded),
            }
        }
    }

    fn call(&mut self, call: &ast::Call<'_>) {
        match &call.expr {
            Expr::Var(var) => {
                if !self.is_local(var.id) {
                    self.analysis.callables.push((
                        CallableKind::Function,
                        var.id.to_string(),
                        range(var.span()),
                    ));
                }
            }
            // A method call (`name.upper()`) reads the object it is called on.
            Expr::GetAttr(method) => self.expression(&method.expr, false),
            other => self.expression(other, false),
        }
        self.arguments(&call.args, false);
    }

    fn expression(&mut self, expression: &Expr<'_>, guarded: bool) {
        if let Some((path, span)) = attribute_path(expression) {
            if !self.is_local(&path[0]) {
                let guarded = guarded || self.is_guarded_path(&path);
                self.analysis.references.push(Reference {
                    path,
                    range: range(span),
                    guarded,
                });
            }
            return;
        }
        match expression {
            Expr::Var(_) | Expr::Const(_) => {}
            Expr::Slice(slice) => {
                self.expression(&slice.expr, guarded);
                for part in [&slice.start, &slice.stop, &slice.step]
                    .into_iter()
                    .flatten()
                {
                    self.expression(part, false);
                }
            }
            Expr::UnaryOp(unary) => self.expression(&unary.expr, guarded),
            Expr::BinOp(binary) => match binary.op {
                ast::BinOpKind::ScAnd => {
                    self.expression(&binary.left, true);
                    self.guards.push(present_paths(&binary.left));
                    self.expression(&binary.right, guarded);
                    self.guards.pop();
                }
                ast::BinOpKind::ScOr => {
                    self.expression(&binary.left, true);
                    self.expression(&binary.right, guarded);
                }
                _ => {
                    self.expression(&binary.left, false);
                    self.expression(&binary.right, false);
                }
            },
            Expr::Compare(compare) => {
                self.expression(&compare.expr, false);
                for op in &compare.ops {
                    self.expression(&op.expr, false);
                }
            }
            Expr::IfExpr(condition) => {
                self.expression(&condition.test_expr, true);
                self.guards.push(present_paths(&condition.test_expr));
                self.expression(&condition.true_expr, guarded);
                self.guards.pop();
                if let Some(otherwise) = &condition.false_expr {
                    self.expression(otherwise, guarded);
                }
            }
            Expr::Filter(filter) => {
                self.analysis.callables.push((
                    CallableKind::Filter,
                    filter.name.to_string(),
                    range(filter.span()),
                ));
                if let Some(inner) = &filter.expr {
                    self.analysis
                        .filtered
                        .push((filter.name.to_string(), range(inner.span())));
                    let guarding = GUARDING_FILTERS.contains(&filter.name);
                    self.expression(inner, guarded || guarding);
                }
                self.arguments(&filter.args, false);
            }
            Expr::Test(test) => {
                self.analysis.callables.push((
                    CallableKind::Test,
                    test.name.to_string(),
                    range(test.span()),
                ));
                let guarding = GUARDING_TESTS.contains(&test.name);
                self.expression(&test.expr, guarded || guarding);
                self.arguments(&test.args, false);
            }
            Expr::GetAttr(attribute) => self.expression(&attribute.expr, guarded),
            Expr::GetItem(item) => {
                self.expression(&item.expr, guarded);
                self.expression(&item.subscript_expr, false);
            }
            Expr::Call(call) => self.call(call),
            Expr::List(list) => list
                .items
                .iter()
                .for_each(|item| self.expression(item, false)),
            Expr::Tuple(tuple) => tuple
                .items
                .iter()
                .for_each(|item| self.expression(item, false)),
            Expr::Map(map) => {
                for expr in map.keys.iter().chain(&map.values) {
                    self.expression(expr, false);
                }
            }
        }
    }
}

/// `contact.first_name`, `contact["first_name"]`: the dotted path of an
/// attribute chain that starts at a variable, with the chain's span.
fn attribute_path(expression: &Expr<'_>) -> Option<(Vec<String>, minijinja::machinery::Span)> {
    let mut names = Vec::new();
    let mut current = expression;
    loop {
        match current {
            Expr::Var(var) => {
                names.push(var.id.to_string());
                names.reverse();
                return Some((names, expression.span()));
            }
            Expr::GetAttr(attribute) => {
                names.push(attribute.name.to_string());
                current = &attribute.expr;
            }
            Expr::GetItem(item) => match &item.subscript_expr {
                Expr::Const(constant) if constant.value.as_str().is_some() => {
                    names.push(constant.value.as_str().unwrap_or_default().to_string());
                    current = &item.expr;
                }
                _ => return None,
            },
            _ => return None,
        }
    }
}

/// The paths a condition proves present when it holds: `contact.city`,
/// `contact.city is defined`, `a and b`, `contact.city != ""`.
fn present_paths(condition: &Expr<'_>) -> Vec<Vec<String>> {
    if let Some((path, _)) = attribute_path(condition) {
        return vec![path];
    }
    match condition {
        Expr::BinOp(binary) if matches!(binary.op, ast::BinOpKind::ScAnd) => {
            let mut paths = present_paths(&binary.left);
            paths.extend(present_paths(&binary.right));
            paths
        }
        Expr::Test(test) if test.name == "defined" => present_paths(&test.expr),
        Expr::Compare(compare) => present_paths(&compare.expr),
        Expr::Filter(filter) => filter.expr.as_ref().map(present_paths).unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::machinery::parse;

    fn references(source: &str) -> Vec<String> {
        let ast = parse(source, "t", Default::default()).expect("parses");
        analyse(&ast)
            .references
            .iter()
            .map(|r| {
                format!(
                    "{} {}{}",
                    r.dotted(),
                    &source[r.range.clone()],
                    if r.guarded { " (guarded)" } else { "" }
                )
            })
            .collect()
    }

    #[test]
    fn guards_and_locals() {
        let source = "{{ contact.city }}{{ contact.city | default('x') }}\
            {% if contact.phone %}{{ contact.phone }}{% endif %}{{ contact.phone }}\
            {% for item in event.items %}{{ item.name }}{{ loop.index }}{% endfor %}\
            {% set greeting = 'hi' %}{{ greeting }}\
            {{ contact.age if contact.age is defined else 0 }}\
            {{ contact.first_name | greeting_name }}{{ contact['last_name'] }}\
            {{ contact.nick or 'друг' }}{{ gendered('a', 'b', vars.shop) }}{{ contact.name.upper() }}";
        insta::assert_snapshot!(references(source).join("\n"), @r"
        contact.city contact.city
        contact.city contact.city (guarded)
        contact.phone contact.phone (guarded)
        contact.phone contact.phone (guarded)
        contact.phone contact.phone
        event.items event.items
        contact.age contact.age (guarded)
        contact.age contact.age (guarded)
        contact.first_name contact.first_name (guarded)
        contact.last_name contact['last_name']
        contact.nick contact.nick (guarded)
        vars.shop vars.shop
        contact.name contact.name
        ");
    }

    #[test]
    fn callables_and_includes() {
        let source = "{% extends 'layouts/base.html' %}{% block body %}{% include ['a.html', 'b.html'] %}\
            {{ n | plural('a') }}{{ x is odd }}{{ gendered('a', 'b') }}{% endblock %}";
        let ast = parse(source, "t", Default::default()).expect("parses");
        let analysis = analyse(&ast);
        let includes: Vec<&str> = analysis.includes.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(includes, ["layouts/base.html", "a.html", "b.html"]);
        let callables: Vec<String> = analysis
            .callables
            .iter()
            .map(|(kind, name, _)| format!("{} {name}", kind.noun()))
            .collect();
        assert_eq!(
            callables,
            ["filter plural", "test odd", "function gendered"]
        );
    }
}
