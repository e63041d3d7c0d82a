//! The UI's `invoke` wrappers, generated from the commands themselves: `ui/src/generated/commands.ts`
//! must equal what the `#[tauri::command]` functions in `src/commands/` declare (name, arguments,
//! result, doc comment), so a renamed argument or a changed result cannot go unnoticed by the UI's
//! type check. After changing a command, regenerate with `make ui-types` and commit the file.
//!
//! The arguments' names go camelCase on the wire (Tauri maps them back to the snake_case
//! parameters); `State`/`AppHandle` parameters are the shell's own and not arguments; a
//! `Result<T, AppError>` resolves with `T` and rejects with the `AppError` of `ipc.ts`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use syn::{FnArg, GenericArgument, Item, PathArguments, ReturnType, Type};

const SHELL_PARAMETERS: [&str; 3] = ["Shared", "AppHandle", "State"];

fn source_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn generated_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/generated/commands.ts")
}

/// One command as the UI calls it.
struct Command {
    name: String,
    doc: Vec<String>,
    arguments: Vec<(String, String)>,
    result: String,
}

/// The commands `lib.rs` registers, in its order (`commands::<module>::<name>,` lines).
fn registered() -> Vec<(String, String)> {
    let lib = std::fs::read_to_string(source_dir().join("lib.rs")).unwrap();
    let start = lib.find("generate_handler![").expect("lib.rs registers its commands with tauri::generate_handler!") + "generate_handler![".len();
    let end = start + lib[start..].find(']').unwrap();
    lib[start..end]
        .split(',')
        .filter_map(|entry| entry.trim().strip_prefix("commands::"))
        .map(|path| {
            let (module, name) = path.split_once("::").unwrap();
            (module.to_string(), name.to_string())
        })
        .collect()
}

fn camel_case(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(path) => path.path.segments.last(),
        Type::Reference(reference) => last_segment(&reference.elem),
        _ => None,
    }
}

fn generic(segment: &syn::PathSegment, index: usize) -> &Type {
    let PathArguments::AngleBracketed(arguments) = &segment.arguments else { panic!("{} has no type arguments", segment.ident) };
    let types: Vec<&Type> = arguments.args.iter().filter_map(|a| if let GenericArgument::Type(t) = a { Some(t) } else { None }).collect();
    types[index]
}

/// The TypeScript type of a Rust argument or result type; named types must be in `ipc.ts`.
fn ts_type(ty: &Type, named: &mut BTreeSet<String>) -> String {
    if let Type::Tuple(tuple) = ty {
        assert!(tuple.elems.is_empty(), "tuples other than () do not cross the IPC boundary");
        return "void".into();
    }
    let segment = last_segment(ty).unwrap_or_else(|| panic!("unsupported type {}", quote_type(ty)));
    match segment.ident.to_string().as_str() {
        "String" | "str" | "PathBuf" | "Path" => "string".into(),
        "bool" => "boolean".into(),
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize" | "f32" | "f64" => "number".into(),
        "Option" => format!("{} | null", ts_type(generic(segment, 0), named)),
        "Vec" => {
            let inner = ts_type(generic(segment, 0), named);
            if inner.contains(' ') {
                format!("({inner})[]")
            } else {
                format!("{inner}[]")
            }
        }
        "Channel" => format!("Channel<{}>", ts_type(generic(segment, 0), named)),
        other => {
            named.insert(other.to_string());
            other.to_string()
        }
    }
}

fn quote_type(ty: &Type) -> String {
    match last_segment(ty) {
        Some(segment) => segment.ident.to_string(),
        None => "a type".into(),
    }
}

fn doc_lines(attrs: &[syn::Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(text), .. }) => Some(text.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn command(module: &str, name: &str, named: &mut BTreeSet<String>) -> Command {
    let path = source_dir().join("commands").join(format!("{module}.rs"));
    let file = syn::parse_file(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let function = file
        .items
        .iter()
        .find_map(|item| match item {
            Item::Fn(f) if f.sig.ident == name => Some(f),
            _ => None,
        })
        .unwrap_or_else(|| panic!("lib.rs registers {module}::{name}, which {} does not define", path.display()));
    assert!(
        function.attrs.iter().any(|a| a.path().segments.last().is_some_and(|s| s.ident == "command")),
        "{module}::{name} is registered but not a #[tauri::command]"
    );
    let arguments = function
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(typed) => Some(typed),
            FnArg::Receiver(_) => None,
        })
        .filter(|typed| !last_segment(&typed.ty).is_some_and(|s| SHELL_PARAMETERS.contains(&s.ident.to_string().as_str())))
        .map(|typed| {
            let syn::Pat::Ident(ident) = &*typed.pat else { panic!("{name}: an argument without a plain name") };
            (camel_case(&ident.ident.to_string()), ts_type(&typed.ty, named))
        })
        .collect();
    let result = match &function.sig.output {
        ReturnType::Default => "void".into(),
        ReturnType::Type(_, ty) => match last_segment(ty) {
            Some(segment) if segment.ident == "Result" => ts_type(generic(segment, 0), named),
            _ => ts_type(ty, named),
        },
    };
    Command { name: name.to_string(), doc: doc_lines(&function.attrs), arguments, result }
}

fn wrappers() -> String {
    let mut named = BTreeSet::new();
    let commands: Vec<Command> = registered().iter().map(|(module, name)| command(module, name, &mut named)).collect();
    let uses_channel = commands.iter().any(|c| c.arguments.iter().any(|(_, ty)| ty.starts_with("Channel<")));
    let mut text = String::from(
        "// Generated from the #[tauri::command] functions of src-tauri/src/commands/ by\n\
         // src-tauri/src/typescript_commands.rs; do not edit. Regenerate with `make ui-types`.\n",
    );
    text.push_str(if uses_channel {
        "import { Channel, invoke } from \"@tauri-apps/api/core\";\n"
    } else {
        "import { invoke } from \"@tauri-apps/api/core\";\n"
    });
    text.push_str(&format!("import type {{ {} }} from \"./ipc\";\n", named.iter().cloned().collect::<Vec<_>>().join(", ")));
    for command in &commands {
        text.push('\n');
        if !command.doc.is_empty() {
            text.push_str(&format!("/** {} */\n", command.doc.join(" ")));
        }
        let parameters: Vec<String> = command.arguments.iter().map(|(name, ty)| format!("{name}: {ty}")).collect();
        let names: Vec<&str> = command.arguments.iter().map(|(name, _)| name.as_str()).collect();
        let payload = if names.is_empty() { String::new() } else { format!(", {{ {} }}", names.join(", ")) };
        text.push_str(&format!(
            "export const {} = ({}) => invoke<{}>(\"{}\"{payload});\n",
            camel_case(&command.name),
            parameters.join(", "),
            command.result,
            command.name
        ));
    }
    text
}

#[test]
fn the_ui_invokes_every_command_with_its_rust_signature() {
    crate::typescript::check_generated(&generated_file(), &wrappers());
}

#[test]
fn every_command_function_is_registered() {
    let registered: BTreeSet<String> = registered().into_iter().map(|(module, name)| format!("{module}::{name}")).collect();
    for entry in std::fs::read_dir(source_dir().join("commands")).unwrap() {
        let path = entry.unwrap().path();
        let module = path.file_stem().unwrap().to_string_lossy().into_owned();
        let file = syn::parse_file(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for item in &file.items {
            if let Item::Fn(f) = item {
                if f.attrs.iter().any(|a| a.path().segments.last().is_some_and(|s| s.ident == "command")) {
                    let name = format!("{module}::{}", f.sig.ident);
                    assert!(registered.contains(&name), "{name} is a #[tauri::command] that lib.rs does not register");
                }
            }
        }
    }
}

/// A registered command the capability does not grant fails at run time ("not allowed by ACL"),
/// and only in the real app: every command `lib.rs` registers has its permission generated
/// (`build.rs`) and granted to the main window (`capabilities/default.json`), and nothing else is.
#[test]
fn every_registered_command_is_permitted_and_granted() {
    let registered: BTreeSet<String> = registered().into_iter().map(|(_, name)| name).collect();
    let build = std::fs::read_to_string(source_dir().join("../build.rs")).unwrap();
    let list = &build[build.find("const COMMANDS").expect("build.rs lists COMMANDS")..];
    let list = &list[..list.find("];").expect("COMMANDS ends")];
    let generated: BTreeSet<String> = list.split('"').skip(1).step_by(2).map(str::to_string).collect();
    assert_eq!(generated, registered, "build.rs's COMMANDS differ from the commands lib.rs registers");
    let capability: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(source_dir().join("../capabilities/default.json")).unwrap()).unwrap();
    let granted: BTreeSet<String> = capability["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|permission| permission.as_str()?.strip_prefix("allow-").map(|name| name.replace('-', "_")))
        .collect();
    assert_eq!(granted, registered, "capabilities/default.json grants other commands than lib.rs registers");
}
