use sea_orm::entity::prelude::*;

/// A key that signs latchkey's own access tokens (Ed25519). Each signs during one rotation
/// period (`slot_start` is unique, so every instance signs with the same key) and is
/// published in the JWKS from its creation until the last token it could sign has expired.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    /// The `kid`: the RFC 7638 thumbprint of the public key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    /// When its rotation period begins.
    #[sea_orm(unique)]
    pub slot_start: ChronoDateTimeUtc,
    /// The public key, base64url (the JWK's `x`).
    pub public_key: String,
    /// The private key, sealed (see `tokens::TokenCipher`; the row is the `kid`).
    pub private_key: String,
    /// The key that sealed `private_key`.
    pub key_id: String,
    /// It signs until here (the end of its period).
    pub signs_until: ChronoDateTimeUtc,
    /// It is published until here (then the sweeper deletes it).
    pub published_until: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
