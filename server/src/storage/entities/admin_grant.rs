use sea_orm::entity::prelude::*;

/// An email granted admin rights with `latchkey admin grant <email>` (besides the emails in
/// `LATCHKEY_ADMINS`): whoever has it as a verified email of one of their identities is an
/// admin. Stored lower-cased.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "admin_grants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub email: String,
    pub granted_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
