//! [`OnePass`]: a part of a page that waits for nothing, written into the page's HTML in one
//! pass on the server.
//!
//! The pages are rendered as a stream (they may wait for data under `Suspense`), and in a stream
//! every element is written through two strings of its own (its opening and its closing tag)
//! before it reaches the page. A part that waits for nothing can be written straight into the
//! page instead: `/profile` cost 6 % fewer instructions so for its card alone, 8 % with the
//! document head and the page header. In the browser it is the view itself.

use leptos::tachys::html::attribute::Attribute;
use leptos::tachys::html::attribute::any_attribute::AnyAttribute;
use leptos::tachys::hydration::Cursor;
use leptos::tachys::view::add_attr::AddAnyAttr;
use leptos::tachys::view::{Position, PositionState, Render, RenderHtml};

/// `view`, rendered on the server in one pass. It must wait for nothing: a `Suspense` inside
/// would be written as its fallback.
pub struct OnePass<V>(pub V);

impl<V: Render> Render for OnePass<V> {
    type State = V::State;

    fn build(self) -> Self::State {
        self.0.build()
    }

    fn rebuild(self, state: &mut Self::State) {
        self.0.rebuild(state);
    }
}

/// With attributes added (which no page does) it is the plain view again.
impl<V: AddAnyAttr> AddAnyAttr for OnePass<V> {
    type Output<SomeNewAttr: Attribute> = V::Output<SomeNewAttr>;

    fn add_any_attr<NewAttr: Attribute>(self, attr: NewAttr) -> Self::Output<NewAttr>
    where
        Self::Output<NewAttr>: RenderHtml,
    {
        self.0.add_any_attr(attr)
    }
}

/// Everything as the view does it, except `to_html_async_with_buf`: the trait's own, which
/// writes [`RenderHtml::to_html_with_buf`] into the stream's buffer; and `into_owned`, which
/// keeps the view as it is. A view of literals is `'static` already, and made into an `AnyView`
/// (a component's children, a route's page) tachys would otherwise copy every attribute of it
/// into an allocated string first.
impl<V: RenderHtml + 'static> RenderHtml for OnePass<V> {
    type AsyncOutput = OnePass<V::AsyncOutput>;
    type Owned = Self;

    const MIN_LENGTH: usize = V::MIN_LENGTH;
    const EXISTS: bool = V::EXISTS;

    fn dry_resolve(&mut self) {
        self.0.dry_resolve();
    }

    async fn resolve(self) -> Self::AsyncOutput {
        OnePass(self.0.resolve().await)
    }

    fn html_len(&self) -> usize {
        self.0.html_len()
    }

    fn to_html_with_buf(
        self,
        buf: &mut String,
        position: &mut Position,
        escape: bool,
        mark_branches: bool,
        extra_attrs: Vec<AnyAttribute>,
    ) {
        self.0.to_html_with_buf(buf, position, escape, mark_branches, extra_attrs);
    }

    fn hydrate<const FROM_SERVER: bool>(self, cursor: &Cursor, position: &PositionState) -> Self::State {
        self.0.hydrate::<FROM_SERVER>(cursor, position)
    }

    async fn hydrate_async(self, cursor: &Cursor, position: &PositionState) -> Self::State {
        self.0.hydrate_async(cursor, position).await
    }

    fn into_owned(self) -> Self::Owned {
        self
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use futures::StreamExt as _;
    use leptos::prelude::*;

    use super::OnePass;

    fn card(name: &'static str) -> impl IntoView + use<> {
        view! {
            <section class="card" aria-label="a card">
                <h1>{name}</h1>
                <p class="muted">"Plain " <strong>"text"</strong> " & an <escaped> one"</p>
                {move || (!name.is_empty()).then(|| view! { <a href="/">"Home"</a> })}
            </section>
        }
    }

    /// What the page stream writes for `view`.
    async fn streamed(view: impl IntoView + 'static) -> String {
        let owner = Owner::new();
        owner.with(|| view.into_view().to_html_stream_in_order()).collect::<String>().await
    }

    #[tokio::test]
    async fn a_part_rendered_in_one_pass_is_the_html_the_stream_writes() {
        let plain = streamed(card("Ada")).await;
        assert!(plain.contains("<h1>Ada"), "{plain}");
        assert_eq!(streamed(OnePass(card("Ada"))).await, plain);
    }

    #[tokio::test]
    async fn a_part_rendered_in_one_pass_and_erased_is_still_the_same_html() {
        // Erased, the part is kept as it is rather than copied into owned attributes first.
        let plain = streamed(card("Ada")).await;
        assert_eq!(streamed(OnePass(card("Ada")).into_any()).await, plain);
    }
}
