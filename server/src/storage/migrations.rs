use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;

pub struct Migrator;

#[async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateSignInTables),
            Box::new(CreateProviderTokens),
            Box::new(IndexForCapsAndSweeps),
            Box::new(KeepProviderSessionIds),
            Box::new(RememberLogoutTokens),
            Box::new(KeepSignInIdTokens),
            Box::new(CreateSigningKeys),
            Box::new(AddAdmins),
            Box::new(IndexIdentitiesByEmail),
            Box::new(IndexIdentitiesInLinkOrder),
        ]
    }
}

struct CreateSignInTables;

impl MigrationName for CreateSignInTables {
    fn name(&self) -> &str {
        "m20261122_000001_create_sign_in_tables"
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    DisplayName,
    Email,
    Picture,
    CreatedAt,
    UpdatedAt,
    DisabledAt,
}

#[derive(DeriveIden)]
enum Identities {
    Table,
    Id,
    UserId,
    ProviderId,
    Issuer,
    Subject,
    Name,
    Email,
    EmailVerified,
    Picture,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    TokenHash,
    UserId,
    IdentityId,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
    UserAgent,
    Ip,
    ProviderSid,
    IdToken,
    IdTokenKeyId,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    UserId,
    Kind,
    ProviderId,
    Detail,
    Ip,
    UserAgent,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PendingLinks {
    Table,
    TokenHash,
    BrowserHash,
    ExistingUserId,
    ProviderId,
    Issuer,
    Subject,
    Name,
    Email,
    EmailVerified,
    Picture,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum PendingLogins {
    Table,
    StateHash,
    BrowserHash,
    Purpose,
    UserId,
    ProviderId,
    PkceVerifier,
    Nonce,
    ReturnTo,
    CreatedAt,
    ExpiresAt,
}

fn id(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).string_len(64).not_null().primary_key().to_owned()
}

fn text(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).text().not_null().to_owned()
}

fn optional_text(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).text().null().to_owned()
}

/// A plain index on one column.
fn index_on(name: &str, table: impl IntoTableRef, column: impl IntoIndexColumn) -> IndexCreateStatement {
    Index::create().name(name).table(table).col(column).to_owned()
}

/// The index `name` of `table`, to drop.
fn index_named(name: &str, table: impl IntoTableRef) -> IndexDropStatement {
    Index::drop().name(name).table(table).to_owned()
}

fn timestamp(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).timestamp_with_time_zone().not_null().to_owned()
}

#[async_trait]
impl MigrationTrait for CreateSignInTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(id(Users::Id))
                    .col(text(Users::DisplayName))
                    .col(optional_text(Users::Email))
                    .col(optional_text(Users::Picture))
                    .col(timestamp(Users::CreatedAt))
                    .col(timestamp(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Identities::Table)
                    .col(id(Identities::Id))
                    .col(ColumnDef::new(Identities::UserId).string_len(64).not_null())
                    .col(text(Identities::ProviderId))
                    .col(text(Identities::Issuer))
                    .col(text(Identities::Subject))
                    .col(optional_text(Identities::Name))
                    .col(optional_text(Identities::Email))
                    .col(ColumnDef::new(Identities::EmailVerified).boolean().not_null().default(false))
                    .col(optional_text(Identities::Picture))
                    .col(timestamp(Identities::CreatedAt))
                    .col(timestamp(Identities::LastUsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Identities::Table, Identities::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The identity key: one (issuer, subject) is one identity, whatever races happen.
        manager
            .create_index(
                Index::create()
                    .name("identities_issuer_subject_key")
                    .table(Identities::Table)
                    .col(Identities::Issuer)
                    .col(Identities::Subject)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("identities_user_id_idx")
                    .table(Identities::Table)
                    .col(Identities::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(id(Sessions::Id))
                    .col(ColumnDef::new(Sessions::TokenHash).string_len(64).not_null().unique_key())
                    .col(ColumnDef::new(Sessions::UserId).string_len(64).not_null())
                    .col(ColumnDef::new(Sessions::IdentityId).string_len(64).null())
                    .col(timestamp(Sessions::CreatedAt))
                    .col(timestamp(Sessions::LastSeenAt))
                    .col(timestamp(Sessions::ExpiresAt))
                    .col(optional_text(Sessions::UserAgent))
                    .col(optional_text(Sessions::Ip))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("sessions_user_id_idx").table(Sessions::Table).col(Sessions::UserId).to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PendingLogins::Table)
                    .col(id(PendingLogins::StateHash))
                    .col(ColumnDef::new(PendingLogins::BrowserHash).string_len(64).not_null())
                    .col(ColumnDef::new(PendingLogins::Purpose).string_len(16).not_null())
                    .col(ColumnDef::new(PendingLogins::UserId).string_len(64).null())
                    .col(text(PendingLogins::ProviderId))
                    .col(text(PendingLogins::PkceVerifier))
                    .col(text(PendingLogins::Nonce))
                    .col(text(PendingLogins::ReturnTo))
                    .col(timestamp(PendingLogins::CreatedAt))
                    .col(timestamp(PendingLogins::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("pending_logins_expires_at_idx")
                    .table(PendingLogins::Table)
                    .col(PendingLogins::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        // The security activity log. `user_id` becomes NULL when an account is deleted: the
        // event stays (anonymised), the person does not.
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(id(AuditEvents::Id))
                    .col(ColumnDef::new(AuditEvents::UserId).string_len(64).null())
                    .col(ColumnDef::new(AuditEvents::Kind).string_len(32).not_null())
                    .col(optional_text(AuditEvents::ProviderId))
                    .col(optional_text(AuditEvents::Detail))
                    .col(optional_text(AuditEvents::Ip))
                    .col(optional_text(AuditEvents::UserAgent))
                    .col(timestamp(AuditEvents::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AuditEvents::Table, AuditEvents::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_events_user_id_created_at_idx")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::UserId)
                    .col(AuditEvents::CreatedAt)
                    .to_owned(),
            )
            .await?;
        // A new identity whose verified email belongs to an existing account, waiting (in this
        // browser, for ten minutes) for the person to prove they own that account.
        manager
            .create_table(
                Table::create()
                    .table(PendingLinks::Table)
                    .col(id(PendingLinks::TokenHash))
                    .col(ColumnDef::new(PendingLinks::BrowserHash).string_len(64).not_null())
                    .col(ColumnDef::new(PendingLinks::ExistingUserId).string_len(64).not_null())
                    .col(text(PendingLinks::ProviderId))
                    .col(text(PendingLinks::Issuer))
                    .col(text(PendingLinks::Subject))
                    .col(optional_text(PendingLinks::Name))
                    .col(optional_text(PendingLinks::Email))
                    .col(ColumnDef::new(PendingLinks::EmailVerified).boolean().not_null().default(false))
                    .col(optional_text(PendingLinks::Picture))
                    .col(timestamp(PendingLinks::CreatedAt))
                    .col(timestamp(PendingLinks::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PendingLinks::Table, PendingLinks::ExistingUserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PendingLinks::Table.into_iden(),
            AuditEvents::Table.into_iden(),
            PendingLogins::Table.into_iden(),
            Sessions::Table.into_iden(),
            Identities::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// The providers' tokens per identity, sealed (see `tokens`).
struct CreateProviderTokens;

impl MigrationName for CreateProviderTokens {
    fn name(&self) -> &str {
        "m20261122_000002_create_provider_tokens"
    }
}

#[derive(DeriveIden)]
enum ProviderTokens {
    Table,
    IdentityId,
    KeyId,
    AccessToken,
    RefreshToken,
    ExpiresAt,
    Scopes,
    Status,
    RefreshLockUntil,
    UpdatedAt,
}

#[async_trait]
impl MigrationTrait for CreateProviderTokens {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProviderTokens::Table)
                    .col(id(ProviderTokens::IdentityId))
                    .col(ColumnDef::new(ProviderTokens::KeyId).string_len(32).not_null())
                    .col(text(ProviderTokens::AccessToken))
                    .col(optional_text(ProviderTokens::RefreshToken))
                    .col(ColumnDef::new(ProviderTokens::ExpiresAt).timestamp_with_time_zone().null())
                    .col(text(ProviderTokens::Scopes))
                    .col(ColumnDef::new(ProviderTokens::Status).string_len(32).not_null())
                    // A lease: the one server instance refreshing these tokens, until then.
                    .col(ColumnDef::new(ProviderTokens::RefreshLockUntil).timestamp_with_time_zone().null())
                    .col(timestamp(ProviderTokens::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProviderTokens::Table, ProviderTokens::IdentityId)
                            .to(Identities::Table, Identities::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ProviderTokens::Table).to_owned()).await
    }
}

/// The indexes the per-browser cap on pending sign-ins and the background sweeper look up by.
struct IndexForCapsAndSweeps;

impl MigrationName for IndexForCapsAndSweeps {
    fn name(&self) -> &str {
        "m20261130_000003_index_for_caps_and_sweeps"
    }
}

/// (index name, table, column)
fn caps_and_sweeps_indexes() -> [(&'static str, DynIden, DynIden); 4] {
    [
        ("pending_logins_browser_hash_idx", PendingLogins::Table.into_iden(), PendingLogins::BrowserHash.into_iden()),
        ("pending_links_expires_at_idx", PendingLinks::Table.into_iden(), PendingLinks::ExpiresAt.into_iden()),
        ("sessions_expires_at_idx", Sessions::Table.into_iden(), Sessions::ExpiresAt.into_iden()),
        ("audit_events_created_at_idx", AuditEvents::Table.into_iden(), AuditEvents::CreatedAt.into_iden()),
    ]
}

#[async_trait]
impl MigrationTrait for IndexForCapsAndSweeps {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, column) in caps_and_sweeps_indexes() {
            manager.create_index(index_on(name, table, column)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in caps_and_sweeps_indexes() {
            manager.drop_index(index_named(name, table)).await?;
        }
        Ok(())
    }
}

/// Each session keeps the provider's session id (`sid`) of its sign-in, indexed: a
/// back-channel logout names the provider session to end.
struct KeepProviderSessionIds;

impl MigrationName for KeepProviderSessionIds {
    fn name(&self) -> &str {
        "m20261130_000004_keep_provider_session_ids"
    }
}

const SESSIONS_PROVIDER_SID_INDEX: &str = "sessions_provider_sid_idx";

#[async_trait]
impl MigrationTrait for KeepProviderSessionIds {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Sessions::Table).add_column(optional_text(Sessions::ProviderSid)).to_owned(),
            )
            .await?;
        manager.create_index(index_on(SESSIONS_PROVIDER_SID_INDEX, Sessions::Table, Sessions::ProviderSid)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(index_named(SESSIONS_PROVIDER_SID_INDEX, Sessions::Table)).await?;
        manager.alter_table(Table::alter().table(Sessions::Table).drop_column(Sessions::ProviderSid).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum LogoutTokens {
    Table,
    ProviderId,
    JtiHash,
    ExpiresAt,
}

/// The back-channel logout tokens acted on (provider, SHA-256 of `jti`), so that a replay is refused on
/// every instance; the sweeper deletes them once they would be refused as too old anyway.
struct RememberLogoutTokens;

impl MigrationName for RememberLogoutTokens {
    fn name(&self) -> &str {
        "m20261130_000005_remember_logout_tokens"
    }
}

const LOGOUT_TOKENS_EXPIRES_AT_INDEX: &str = "logout_tokens_expires_at_idx";

#[async_trait]
impl MigrationTrait for RememberLogoutTokens {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LogoutTokens::Table)
                    .col(ColumnDef::new(LogoutTokens::ProviderId).string_len(64).not_null())
                    .col(ColumnDef::new(LogoutTokens::JtiHash).string_len(64).not_null())
                    .col(timestamp(LogoutTokens::ExpiresAt))
                    .primary_key(Index::create().col(LogoutTokens::ProviderId).col(LogoutTokens::JtiHash))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index_on(LOGOUT_TOKENS_EXPIRES_AT_INDEX, LogoutTokens::Table, LogoutTokens::ExpiresAt))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(LogoutTokens::Table).to_owned()).await
    }
}

/// Each session keeps the ID token of its sign-in, sealed like the provider tokens (and the
/// id of the key that sealed it): RP-initiated logout sends it back as `id_token_hint`.
struct KeepSignInIdTokens;

impl MigrationName for KeepSignInIdTokens {
    fn name(&self) -> &str {
        "m20261130_000006_keep_sign_in_id_tokens"
    }
}

#[async_trait]
impl MigrationTrait for KeepSignInIdTokens {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one column at a time.
        for column in [Sessions::IdToken, Sessions::IdTokenKeyId] {
            manager
                .alter_table(Table::alter().table(Sessions::Table).add_column(optional_text(column)).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Sessions::IdToken, Sessions::IdTokenKeyId] {
            manager.alter_table(Table::alter().table(Sessions::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Kid,
    SlotStart,
    PublicKey,
    PrivateKey,
    KeyId,
    SignsUntil,
    PublishedUntil,
}

/// The keys that sign latchkey's own access tokens: one per rotation period (unique), the
/// private part sealed.
struct CreateSigningKeys;

impl MigrationName for CreateSigningKeys {
    fn name(&self) -> &str {
        "m20261130_000007_create_signing_keys"
    }
}

#[async_trait]
impl MigrationTrait for CreateSigningKeys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .col(ColumnDef::new(SigningKeys::Kid).string_len(64).not_null().primary_key())
                    .col(timestamp(SigningKeys::SlotStart).unique_key())
                    .col(ColumnDef::new(SigningKeys::PublicKey).text().not_null())
                    .col(ColumnDef::new(SigningKeys::PrivateKey).text().not_null())
                    .col(ColumnDef::new(SigningKeys::KeyId).text().not_null())
                    .col(timestamp(SigningKeys::SignsUntil))
                    .col(timestamp(SigningKeys::PublishedUntil))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SigningKeys::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum AdminGrants {
    Table,
    Email,
    GrantedAt,
}

/// Admins: an account can be disabled (`users.disabled_at`), and admin rights granted by email
/// from the command line (`admin_grants`).
struct AddAdmins;

impl MigrationName for AddAdmins {
    fn name(&self) -> &str {
        "m20261130_000008_add_admins"
    }
}

#[async_trait]
impl MigrationTrait for AddAdmins {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let disabled_at = ColumnDef::new(Users::DisabledAt).timestamp_with_time_zone().null().to_owned();
        manager.alter_table(Table::alter().table(Users::Table).add_column(disabled_at).to_owned()).await?;
        manager
            .create_table(
                Table::create()
                    .table(AdminGrants::Table)
                    .col(ColumnDef::new(AdminGrants::Email).text().not_null().primary_key())
                    .col(timestamp(AdminGrants::GrantedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AdminGrants::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Users::Table).drop_column(Users::DisabledAt).to_owned()).await
    }
}

/// A sign-in by a new identity looks for accounts with the same verified email, compared
/// without case (`lower(email)`): without this index that is a scan of every identity, a cost
/// that grows with the number of people.
struct IndexIdentitiesByEmail;

impl MigrationName for IndexIdentitiesByEmail {
    fn name(&self) -> &str {
        "m20261130_000009_index_identities_by_email"
    }
}

#[async_trait]
impl MigrationTrait for IndexIdentitiesByEmail {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // An expression index, in the one spelling SQLite and PostgreSQL share.
        let sql = "CREATE INDEX identities_email_lower_idx ON identities (lower(email))";
        manager.get_connection().execute_unprepared(sql).await.map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP INDEX identities_email_lower_idx").await.map(|_| ())
    }
}

/// A person's identities are read oldest first (`/api/me`, every account page): indexed by
/// user and link time, they come in that order from the index instead of through a sort on
/// every read. The index on the user alone is then redundant.
struct IndexIdentitiesInLinkOrder;

impl MigrationName for IndexIdentitiesInLinkOrder {
    fn name(&self) -> &str {
        "m20261201_000010_index_identities_in_link_order"
    }
}

const IDENTITIES_BY_USER_INDEX: &str = "identities_user_id_idx";
const IDENTITIES_IN_LINK_ORDER_INDEX: &str = "identities_user_id_created_at_idx";

#[async_trait]
impl MigrationTrait for IndexIdentitiesInLinkOrder {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(IDENTITIES_IN_LINK_ORDER_INDEX)
                    .table(Identities::Table)
                    .col(Identities::UserId)
                    .col(Identities::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager.drop_index(index_named(IDENTITIES_BY_USER_INDEX, Identities::Table)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_index(index_on(IDENTITIES_BY_USER_INDEX, Identities::Table, Identities::UserId)).await?;
        manager.drop_index(index_named(IDENTITIES_IN_LINK_ORDER_INDEX, Identities::Table)).await
    }
}
