//! One target's messages rendered for many contacts, as a send does.
//!
//! What does not depend on the contact is prepared once: the compiled
//! template of every part (no lookup in the environment per message), the
//! context values every message shares ([`SharedContext`]), and the text
//! parts produced from HTML, remembered across contacts
//! ([`TextParts`]). A renderer is `Sync`: the render threads of a
//! send share one. The result for a contact is the same as rendering it
//! with [`Templates::render`].
//!
//! [`Renderer::render_stream`] renders a stream of contacts (the store's
//! cursor) on several threads: one thread reads and hands batches of
//! contacts through a bounded channel to the render threads, so memory
//! stays flat whatever the audience. Each batch goes back to the reading
//! thread to be freed: glibc's allocator locks the arena of the thread that
//! allocated a block to free it from another thread, and those lock waits
//! halved the throughput of two render threads. Each render thread also
//! has its own copy of the shared values and its own text parts: shared
//! ones moved a cache line between the cores at every reference count and
//! lock, a fifth of the time of two threads.
//!
//! [`TextParts`]: crate::template::text_part::TextParts

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, PoisonError, mpsc};

use minijinja::Template;
use minijinja::value::Value;

use crate::contact::Contact;
use crate::template::text_part::TextParts;
use crate::template::{
    ChannelMessage, Part, Rendered, SharedContext, Target, Templates, contact_value, render_message,
};

/// Contacts per batch on the channel: enough that the channel costs nothing
/// per contact, few enough that memory stays flat.
const BATCH: usize = 256;
/// Batches waiting for a render thread: the reader stays ahead without
/// buffering the audience.
const IN_FLIGHT: usize = 8;

/// What a render thread hands on for each contact: its messages, or the
/// part that failed to render.
pub type Rendering = Result<Vec<Rendered>, (Part, minijinja::Error)>;

/// One target prepared for rendering many contacts.
pub struct Renderer<'t> {
    target: &'t Target,
    shared: Arc<SharedContext>,
    messages: Vec<CompiledMessage<'t>>,
    texts: TextParts,
}

struct CompiledMessage<'t> {
    message: &'t ChannelMessage,
    parts: Vec<(&'t Part, Template<'t, 't>)>,
}

impl<'t> Renderer<'t> {
    /// Prepares every message of `target`; fails on a part whose template
    /// does not compile.
    pub fn new(
        templates: &'t Templates,
        target: &'t Target,
        vars: &Value,
        now: &str,
    ) -> Result<Renderer<'t>, (Part, minijinja::Error)> {
        let messages = target
            .messages
            .iter()
            .map(|message| {
                Ok(CompiledMessage {
                    message,
                    parts: templates.compile_message(message)?,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Renderer {
            target,
            shared: SharedContext::new(target, vars, now),
            messages,
            texts: TextParts::new(),
        })
    }

    /// Signs each contact's unsubscribe link with `links` (none: the
    /// placeholder of previews).
    pub fn with_links(mut self, links: Option<crate::signed_link::Links>) -> Renderer<'t> {
        self.shared = self.shared.with_links(links);
        self
    }

    pub fn target(&self) -> &'t Target {
        self.target
    }

    /// Renders every message of the target for one contact (and the event
    /// that triggered a journey), in the order of `target.messages`.
    pub fn render(
        &self,
        contact: Value,
        event: Option<Value>,
    ) -> Result<Vec<Rendered>, (Part, minijinja::Error)> {
        self.render_with(&self.shared, &self.texts, contact, event)
    }

    /// Renders only the messages of `channels` (a contact reached on one
    /// channel of several), in the order of `target.messages`, with the
    /// event that triggered a journey.
    pub fn render_channels(
        &self,
        contact: Value,
        event: Option<Value>,
        channels: &[&str],
    ) -> Result<Vec<Rendered>, (Part, minijinja::Error)> {
        self.messages
            .iter()
            .filter(|compiled| channels.contains(&compiled.message.channel))
            .map(|compiled| {
                let context = self.shared.message_on(
                    contact.clone(),
                    event.clone(),
                    compiled.message.channel,
                );
                render_message(
                    self.target,
                    compiled.message.channel,
                    &compiled.parts,
                    &context,
                    Some(&self.texts),
                )
            })
            .collect()
    }

    fn render_with(
        &self,
        shared: &Arc<SharedContext>,
        texts: &TextParts,
        contact: Value,
        event: Option<Value>,
    ) -> Result<Vec<Rendered>, (Part, minijinja::Error)> {
        self.messages
            .iter()
            .map(|compiled| {
                let context =
                    shared.message_on(contact.clone(), event.clone(), compiled.message.channel);
                render_message(
                    self.target,
                    compiled.message.channel,
                    &compiled.parts,
                    &context,
                    Some(texts),
                )
            })
            .collect()
    }

    /// Renders every contact `read` produces, on one thread per sink, as a
    /// campaign's send does (no trigger event).
    ///
    /// `read` runs on the calling thread and hands each contact to the
    /// visitor it is given (`|visit| store.each_contact(visit)`); the
    /// visitor breaks when the render threads have stopped. A sink receives
    /// each contact with its messages, on its render thread, in no
    /// particular order across threads. Returns the number of contacts read,
    /// or `read`'s error once the contacts read before it are rendered.
    /// Panics without a sink.
    pub fn render_stream<S, E>(
        &self,
        read: impl FnOnce(&mut dyn FnMut(Contact) -> ControlFlow<()>) -> Result<(), E>,
        sinks: Vec<S>,
    ) -> Result<usize, E>
    where
        S: FnMut(&Contact, Rendering) + Send,
    {
        assert!(!sinks.is_empty(), "rendering a stream needs a sink");
        let (batches, receiver) = mpsc::sync_channel::<Vec<Arc<Contact>>>(IN_FLIGHT);
        // Shared by the render threads only: when they have all stopped
        // (a sink panicked), sending fails instead of blocking.
        let receiver = Arc::new(Mutex::new(receiver));
        let (finished_sender, finished) = mpsc::channel::<Vec<Arc<Contact>>>();
        std::thread::scope(|scope| {
            for mut sink in sinks {
                let receiver = receiver.clone();
                let finished_sender = finished_sender.clone();
                scope.spawn(move || {
                    // Values and text parts of this thread's own (see
                    // the module docs).
                    let shared = self.shared.detached();
                    let texts = TextParts::new();
                    loop {
                        let next = receiver
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .recv();
                        let Ok(batch) = next else { break };
                        for contact in &batch {
                            let contact_value = contact_value(contact.clone());
                            sink(
                                contact,
                                self.render_with(&shared, &texts, contact_value, None),
                            );
                        }
                        // The reader frees what it allocated (see the module docs).
                        let _ = finished_sender.send(batch);
                    }
                    self.texts.absorb(&texts);
                });
            }
            drop((receiver, finished_sender));
            let mut count = 0;
            let mut batch = Vec::with_capacity(BATCH);
            let result = read(&mut |contact| {
                count += 1;
                batch.push(Arc::new(contact));
                if batch.len() < BATCH {
                    return ControlFlow::Continue(());
                }
                finished.try_iter().for_each(drop);
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                match batches.send(full) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(_) => ControlFlow::Break(()),
                }
            });
            if !batch.is_empty() {
                let _ = batches.send(batch);
            }
            drop(batches);
            // Until every render thread has stopped.
            finished.iter().for_each(drop);
            result.map(|()| count)
        })
    }

    /// Text parts produced from HTML so far: (conversions asked, answered
    /// from memory).
    pub fn text_statistics(&self) -> (u64, u64) {
        self.texts.statistics()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::contact::{Contact, Value as Stored};
    use crate::template::{ContextInput, contact_value, context, json_value, vars_value};

    fn assert_sync<T: Sync>() {}

    #[test]
    fn a_renderer_is_shared_by_render_threads() {
        assert_sync::<Renderer<'static>>();
    }

    fn stored(id: &str, attributes: &[(&str, Stored)]) -> Contact {
        Contact {
            id: id.to_string(),
            attributes: attributes
                .iter()
                .map(|(name, value)| (name.to_string(), value.clone()))
                .collect(),
            ..Contact::default()
        }
    }

    /// The same contact as a plain map, as contacts from files are: its
    /// attributes as JSON (`contacts show` prints them so) made template values.
    fn as_map(contact: &Contact) -> Value {
        let mut map = serde_json::Map::new();
        map.insert("id".to_string(), contact.id.clone().into());
        for (name, value) in &contact.attributes {
            map.insert(name.clone(), value.to_json());
        }
        json_value(&serde_json::Value::Object(map))
    }

    fn contacts() -> Vec<Contact> {
        let name = |s: &str| Stored::String(s.to_string());
        vec![
            stored(
                "c-1",
                &[
                    ("first_name", name("мария")),
                    ("gender", name("female")),
                    ("orders_count", Stored::Integer(2)),
                ],
            ),
            stored(
                "c-2",
                &[
                    ("gender", name("male")),
                    ("orders_count", Stored::Integer(0)),
                ],
            ),
            stored("c-3", &[("orders_count", Stored::Integer(5))]),
            stored(
                "c-1000000",
                &[
                    ("first_name", name("<script>alert(1)</script> {{ 7 * 7 }}")),
                    ("gender", name("female")),
                    ("orders_count", Stored::Integer(1)),
                    ("created_at", Stored::Datetime(1_767_225_600)),
                ],
            ),
            stored(
                "c-1'&\"/",
                &[
                    ("first_name", name("Константин-Александр")),
                    ("gender", name("male")),
                    ("orders_count", Stored::Integer(3)),
                ],
            ),
        ]
    }

    /// Rendering many contacts through a renderer (shared context, compiled
    /// templates, remembered text parts) gives what rendering each one on
    /// its own gives, and a stored contact renders as the same map would.
    #[test]
    fn renders_as_templates_render_each_contact() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/render/project");
        let compilation = crate::compile(&root).expect("fixture compiles");
        let project = &compilation.project;
        let templates = Templates::new(project).expect("templates");
        let manifest = &project.manifest.as_ref().expect("manifest").value;
        let vars = vars_value(manifest);
        let now = "2026-03-02T09:00:00Z";
        for target in &templates.targets {
            let renderer = Renderer::new(&templates, target, &vars, now).expect("compiles");
            let event = target
                .event
                .as_deref()
                .and_then(|event| crate::template::samples::event(manifest, event, false));
            // Three times: text parts are remembered when seen a second
            // time, so the third round comes from memory.
            for contact in contacts().into_iter().chain(contacts()).chain(contacts()) {
                let expected: Vec<String> = [contact_value(contact.clone()), as_map(&contact)]
                    .into_iter()
                    .flat_map(|contact| {
                        let context = context(
                            target,
                            ContextInput {
                                contact,
                                event: event.clone(),
                                vars: &vars,
                                now,
                            },
                        );
                        target
                            .messages
                            .iter()
                            .map(|message| {
                                let rendered = templates.render(target, message, &context);
                                format!("{:?}", rendered.expect("renders"))
                            })
                            .collect::<Vec<_>>()
                    })
                    .collect();
                let (from_object, from_map) = expected.split_at(target.messages.len());
                assert_eq!(from_object, from_map, "{}", contact.id);
                let rendered: Vec<String> = renderer
                    .render(contact_value(contact.clone()), event.clone())
                    .expect("renders")
                    .iter()
                    .map(|rendered| format!("{rendered:?}"))
                    .collect();
                assert_eq!(rendered, from_object, "{} {}", target.label(), contact.id);
            }
            if target
                .messages
                .iter()
                .any(|message| message.channel == "email")
            {
                let (_, remembered) = renderer.text_statistics();
                assert!(remembered > 0, "{}", target.label());
            }
        }
    }

    /// Every contact read is rendered once, by one of the threads, as the
    /// renderer renders it alone; a failing read stops the stream with its error.
    #[test]
    fn a_stream_renders_every_contact_once() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/render/project");
        let compilation = crate::compile(&root).expect("fixture compiles");
        let templates = compilation.templates.as_ref().expect("templates");
        let manifest = &compilation
            .project
            .manifest
            .as_ref()
            .expect("manifest")
            .value;
        let target = templates
            .targets
            .iter()
            .find(|target| target.name == "promo")
            .expect("promo");
        let renderer = Renderer::new(
            templates,
            target,
            &vars_value(manifest),
            "2026-03-02T09:00:00Z",
        )
        .expect("compiles");
        let count = 3 * BATCH + 7;
        let contact = |index: usize| {
            let mut contact = contacts()[index % 5].clone();
            contact.id = format!("c-{index}");
            contact
        };
        let mut seen = vec![Vec::new(), Vec::new()];
        let sinks = seen
            .iter_mut()
            .map(|seen| {
                move |contact: &Contact, rendering: Rendering| {
                    let rendered = rendering.expect("renders");
                    seen.push((contact.id.clone(), format!("{rendered:?}")));
                }
            })
            .collect();
        let read = renderer.render_stream(
            |visit| {
                for index in 0..count {
                    if visit(contact(index)).is_break() {
                        break;
                    }
                }
                Ok::<_, ()>(())
            },
            sinks,
        );
        assert_eq!(read, Ok(count));
        let mut seen: Vec<(String, String)> = seen.into_iter().flatten().collect();
        seen.sort();
        let mut expected: Vec<(String, String)> = (0..count)
            .map(|index| {
                let rendered = renderer.render(contact_value(contact(index)), None);
                (
                    format!("c-{index}"),
                    format!("{:?}", rendered.expect("renders")),
                )
            })
            .collect();
        expected.sort();
        assert_eq!(seen, expected);

        let mut rendered = 0;
        let failed = renderer.render_stream(
            |visit| {
                for index in 0..10 {
                    let _ = visit(contact(index));
                }
                Err("store failed")
            },
            vec![|_: &Contact, _: Rendering| rendered += 1],
        );
        assert_eq!(failed, Err("store failed"));
        assert_eq!(rendered, 10, "what was read before the failure is rendered");
    }

    /// Templates that look at the whole contact see a map either way.
    #[test]
    fn a_stored_contact_is_a_map() {
        let mut environment = minijinja::Environment::new();
        environment
            .add_template(
                "t",
                "{{ contact }}|{{ contact | length }}|{% for key in contact %}{{ key }},{% endfor %}|\
                 {{ contact | dictsort }}|{{ contact is mapping }}|{{ contact | items | list }}|\
                 {{ contact['first_name'] }}|{{ contact.missing is defined }}",
            )
            .expect("parses");
        let template = environment.get_template("t").expect("template");
        let contact = stored(
            "c-1",
            &[
                ("first_name", Stored::String("Мария".into())),
                ("tags", Stored::List(vec!["vip".into()])),
                ("created_at", Stored::Datetime(1_767_225_600)),
            ],
        );
        let render = |contact: Value| {
            template
                .render(minijinja::context! { contact })
                .expect("renders")
        };
        let rendered = render(contact_value(contact.clone()));
        assert_eq!(rendered, render(as_map(&contact)));
        assert!(
            rendered.starts_with(
                "{'created_at': '2026-01-01T00:00:00Z', 'first_name': 'Мария', 'id': 'c-1', \
                 'tags': ['vip']}|4|created_at,first_name,id,tags,|"
            ),
            "{rendered}"
        );
    }
}
