use super::*;

fn variables(error: ConfigError) -> Vec<String> {
    error.problems.into_iter().map(|p| p.variable).collect()
}

#[test]
fn defaults_give_a_local_development_config() {
    let config = Config::from_values(Vec::<(String, String)>::new()).expect("defaults are valid");
    assert_eq!(config.environment, Environment::Development);
    assert_eq!(config.public_url.as_str(), "http://127.0.0.1:3000/");
    assert!(config.database_url.expose().starts_with("sqlite://"));
    assert_eq!(config.dev_idps, 0);
    assert_eq!(config.redirect_uri("dev").as_str(), "http://127.0.0.1:3000/auth/dev/callback");
}

#[test]
fn a_provider_is_read_from_its_variables() {
    let config = Config::from_values([
        ("LATCHKEY_PROVIDER_CORP_SSO_KIND", "oidc"),
        ("LATCHKEY_PROVIDER_CORP_SSO_ISSUER", "https://sso.example.com"),
        ("LATCHKEY_PROVIDER_CORP_SSO_CLIENT_ID", "abc"),
        ("LATCHKEY_PROVIDER_CORP_SSO_CLIENT_SECRET", "shh"),
        ("LATCHKEY_PROVIDER_CORP_SSO_NAME", "Corp"),
    ])
    .expect("valid");
    let provider = &config.providers[0];
    assert_eq!(provider.id, "corp_sso");
    assert_eq!(provider.name, "Corp");
    assert_eq!(provider.scopes, ["openid", "email", "profile"]);
    assert!(!format!("{provider:?}").contains("shh"), "secrets never reach Debug output");
}

#[test]
fn http_issuers_are_refused_unless_loopback() {
    let error = Config::from_values([
        ("LATCHKEY_PROVIDER_X_KIND", "oidc"),
        ("LATCHKEY_PROVIDER_X_ISSUER", "http://idp.example.com"),
        ("LATCHKEY_PROVIDER_X_CLIENT_ID", "abc"),
        ("LATCHKEY_PROVIDER_X_CLIENT_SECRET", "shh"),
    ])
    .unwrap_err();
    assert_eq!(variables(error), ["LATCHKEY_PROVIDER_X_ISSUER"]);
}

#[test]
fn missing_provider_fields_are_each_named() {
    let error = Config::from_values([("LATCHKEY_PROVIDER_X_KIND", "oidc")]).unwrap_err();
    assert_eq!(
        variables(error),
        ["LATCHKEY_PROVIDER_X_ISSUER", "LATCHKEY_PROVIDER_X_CLIENT_ID", "LATCHKEY_PROVIDER_X_CLIENT_SECRET"]
    );
}

#[test]
fn development_refuses_a_public_url_that_is_not_loopback() {
    for public in ["https://id.example.com", "http://192.168.1.20:3000", "https://localhost.example.com"] {
        let refused = Config::from_values([("LATCHKEY_PUBLIC_URL", public)]).expect_err(public);
        assert!(refused.to_string().contains("LATCHKEY_ENV"), "names the variable: {refused}");
    }
    for loopback in ["http://127.0.0.1:3000", "http://localhost:3000", "http://[::1]:3000", "http://app.localhost"] {
        Config::from_values([("LATCHKEY_PUBLIC_URL", loopback)]).expect(loopback);
    }
}

#[test]
fn trust_email_is_off_unless_set_to_true_and_anything_else_is_refused() {
    let with = |trust: Option<&str>| {
        let mut values = vec![
            ("LATCHKEY_PROVIDER_CORP_KIND", "oidc"),
            ("LATCHKEY_PROVIDER_CORP_ISSUER", "https://sso.example.test"),
            ("LATCHKEY_PROVIDER_CORP_CLIENT_ID", "id"),
            ("LATCHKEY_PROVIDER_CORP_CLIENT_SECRET", "secret"),
        ];
        values.extend(trust.map(|value| ("LATCHKEY_PROVIDER_CORP_TRUST_EMAIL", value)));
        Config::from_values(values)
    };
    let trusts = |trust| with(trust).expect("valid").providers[0].trust_email;

    assert!(!trusts(None), "off by default");
    assert!(trusts(Some("true")));
    assert!(trusts(Some("TRUE")));
    assert!(!trusts(Some("false")));
    let refused = with(Some("maybe")).expect_err("refused");
    assert!(refused.to_string().contains("LATCHKEY_PROVIDER_CORP_TRUST_EMAIL"), "{refused}");
}

#[test]
fn misspelt_settings_are_reported_and_tooling_variables_are_not() {
    let config = Config::from_values([
        ("LATCHKEY_SECRET_KYE", "x"),
        ("LATCHKEY_PUBLC_URL", "http://127.0.0.1:3000"),
        ("LATCHKEY_TEST_POSTGRES_URL", "postgres://x"),
        ("LATCHKEY_BIN", "/x"),
        ("LATCHKEY_DEV_IDP", "true"),
    ])
    .expect("valid");
    assert_eq!(config.unrecognized, ["LATCHKEY_PUBLC_URL", "LATCHKEY_SECRET_KYE"]);
}

#[test]
fn production_refuses_dev_idp_missing_key_and_plain_http() {
    let error = Config::from_values([
        ("LATCHKEY_ENV", "production"),
        ("LATCHKEY_DEV_IDP", "true"),
        ("LATCHKEY_PUBLIC_URL", "http://127.0.0.1:3000"),
    ])
    .unwrap_err();
    let mut vars = variables(error);
    vars.sort();
    assert_eq!(vars, ["LATCHKEY_DEV_IDP", "LATCHKEY_PUBLIC_URL", "LATCHKEY_SECRET_KEY"]);
}

#[test]
fn a_malformed_secret_key_is_refused() {
    let error = Config::from_values([("LATCHKEY_SECRET_KEY", "abc")]).unwrap_err();
    assert_eq!(variables(error), ["LATCHKEY_SECRET_KEY"]);
}

fn provider(kind: &str, extra: &[(&str, &str)]) -> Result<ProviderConfig, Vec<String>> {
    let mut values = vec![
        ("LATCHKEY_PROVIDER_P_KIND".to_string(), kind.to_string()),
        ("LATCHKEY_PROVIDER_P_CLIENT_ID".to_string(), "abc".to_string()),
        ("LATCHKEY_PROVIDER_P_CLIENT_SECRET".to_string(), "shh".to_string()),
    ];
    values.extend(extra.iter().map(|(k, v)| (format!("LATCHKEY_PROVIDER_P_{k}"), v.to_string())));
    Config::from_values(values).map(|mut config| config.providers.remove(0)).map_err(variables)
}

#[test]
fn google_has_presets_and_optional_domains() {
    let google = provider("google", &[]).expect("valid");
    assert_eq!(google.name, "Google");
    assert_eq!(google.issuer.as_str(), "https://accounts.google.com/");
    assert_eq!(google.scopes, ["openid", "email", "profile"]);
    assert_eq!(google.settings, ProviderSettings::Google(GoogleSettings { allowed_domains: vec![] }));

    let google =
        provider("google", &[("ALLOWED_DOMAINS", "Example.com, example.org"), ("ISSUER", "http://127.0.0.1:9")])
            .expect("valid");
    assert_eq!(google.issuer.as_str(), "http://127.0.0.1:9/");
    assert_eq!(
        google.settings,
        ProviderSettings::Google(GoogleSettings { allowed_domains: vec!["example.com".into(), "example.org".into()] })
    );
    assert_eq!(
        provider("google", &[("ALLOWED_DOMAINS", "not a domain")]).unwrap_err(),
        ["LATCHKEY_PROVIDER_P_ALLOWED_DOMAINS"]
    );
    assert_eq!(provider("google", &[("ISSUER", "http://google.example")]).unwrap_err(), ["LATCHKEY_PROVIDER_P_ISSUER"]);
}

#[test]
fn microsoft_defaults_to_the_common_tenant() {
    let microsoft = provider("microsoft", &[]).expect("valid");
    assert_eq!(microsoft.name, "Microsoft");
    assert_eq!(microsoft.issuer.as_str(), "https://login.microsoftonline.com/common/v2.0");
    let ProviderSettings::Microsoft(settings) = microsoft.settings else { panic!("a Microsoft provider") };
    assert_eq!(settings.tenant, "common");
    assert!(settings.is_multi_tenant());
    assert_eq!(settings.issuer_template, "https://login.microsoftonline.com/{tenantid}/v2.0");
    assert_eq!(
        settings.issuer_for_tenant("11111111-1111-1111-1111-111111111111"),
        "https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0"
    );
}

#[test]
fn microsoft_tenants_and_issuer_overrides_are_checked() {
    let tid = "11111111-1111-1111-1111-111111111111";
    let one = provider("microsoft", &[("TENANT", &tid.to_ascii_uppercase())]).expect("valid");
    assert_eq!(one.issuer.as_str(), format!("https://login.microsoftonline.com/{tid}/v2.0"));
    let local = provider("microsoft", &[("ISSUER", "http://127.0.0.1:9/{tenant}/v2.0"), ("ALLOWED_TENANTS", tid)])
        .expect("valid");
    assert_eq!(local.issuer.as_str(), "http://127.0.0.1:9/common/v2.0");
    let ProviderSettings::Microsoft(settings) = local.settings else { panic!("a Microsoft provider") };
    assert_eq!(settings.issuer_template, "http://127.0.0.1:9/{tenantid}/v2.0");
    assert_eq!(settings.allowed_tenants, [tid]);
    let literal = provider("microsoft", &[("ISSUER", "http://127.0.0.1:9/common/v2.0")]).expect("valid");
    assert_eq!(literal.issuer.as_str(), "http://127.0.0.1:9/common/v2.0");

    assert_eq!(provider("microsoft", &[("TENANT", "not/a tenant")]).unwrap_err(), ["LATCHKEY_PROVIDER_P_TENANT"]);
    assert_eq!(
        provider("microsoft", &[("ALLOWED_TENANTS", "contoso.com")]).unwrap_err(),
        ["LATCHKEY_PROVIDER_P_ALLOWED_TENANTS"]
    );
    assert_eq!(
        provider("microsoft", &[("ISSUER", "http://127.0.0.1:9/v2.0")]).unwrap_err(),
        ["LATCHKEY_PROVIDER_P_ISSUER"]
    );
}

#[test]
fn github_has_presets_and_overridable_endpoints() {
    let github = provider("github", &[]).expect("valid");
    assert_eq!(github.name, "GitHub");
    assert_eq!(github.scopes, ["read:user", "user:email"]);
    assert_eq!(github.issuer.as_str(), "https://github.com/");
    let ProviderSettings::GitHub(settings) = github.settings else { panic!("a GitHub provider") };
    assert_eq!(settings.authorize_url.as_str(), GITHUB_AUTHORIZE_URL);
    assert_eq!(settings.token_url.as_str(), GITHUB_TOKEN_URL);
    assert_eq!(settings.api("/user"), "https://api.github.com/user");

    let local =
        provider("github", &[("API_URL", "http://127.0.0.1:9/api/v3/"), ("SCOPES", "read:user")]).expect("valid");
    assert_eq!(local.issuer.as_str(), "http://127.0.0.1:9/api/v3");
    let ProviderSettings::GitHub(settings) = local.settings else { panic!("a GitHub provider") };
    assert_eq!(settings.api("/user"), "http://127.0.0.1:9/api/v3/user");

    assert_eq!(
        provider("github", &[("TOKEN_URL", "http://github.example/token")]).unwrap_err(),
        ["LATCHKEY_PROVIDER_P_TOKEN_URL"]
    );
    assert_eq!(provider("github", &[("AUTHORIZE_URL", "nope")]).unwrap_err(), ["LATCHKEY_PROVIDER_P_AUTHORIZE_URL"]);
}

#[test]
fn settings_of_another_kind_are_named() {
    assert_eq!(provider("github", &[("ISSUER", "https://github.com")]).unwrap_err(), ["LATCHKEY_PROVIDER_P_ISSUER"]);
    assert_eq!(provider("google", &[("TENANT", "common")]).unwrap_err(), ["LATCHKEY_PROVIDER_P_TENANT"]);
    assert_eq!(
        provider("oidc", &[("ISSUER", "https://sso.example.com"), ("API_URL", "https://api.example.com")]).unwrap_err(),
        ["LATCHKEY_PROVIDER_P_API_URL"]
    );
    assert_eq!(provider("saml", &[]).unwrap_err(), ["LATCHKEY_PROVIDER_P_KIND"]);
}

#[test]
fn toml_is_flattened_into_variable_names() {
    let values = flatten_toml(
        "public_url = \"https://id.example.com\"\nsite_addr = \"0.0.0.0:8080\"\n[provider.corp]\nkind = \"oidc\"\nclient_id = \"abc\"\n",
    )
    .expect("valid toml");
    assert_eq!(values["LATCHKEY_PUBLIC_URL"], "https://id.example.com");
    assert_eq!(values["LEPTOS_SITE_ADDR"], "0.0.0.0:8080");
    assert_eq!(values["LATCHKEY_PROVIDER_CORP_CLIENT_ID"], "abc");
}

#[test]
fn rate_limits_default_to_generous_values_and_can_be_set() {
    let defaults = Config::from_values(Vec::<(String, String)>::new()).expect("defaults are valid");
    assert_eq!(defaults.rate_limits, RateLimitSettings::default());
    assert!(defaults.trusted_proxies.is_empty(), "no proxy is trusted unless named");

    let config = Config::from_values([
        ("LATCHKEY_RATE_LIMIT_SIGN_INS_PER_MINUTE", "5"),
        ("LATCHKEY_RATE_LIMIT_CALLBACKS_PER_MINUTE", "6"),
        ("LATCHKEY_RATE_LIMIT_API_PER_MINUTE", "7"),
    ])
    .expect("valid");
    let per_minute = |limit: NonZeroU32| limit.get();
    assert_eq!(per_minute(config.rate_limits.sign_ins_per_minute), 5);
    assert_eq!(per_minute(config.rate_limits.callbacks_per_minute), 6);
    assert_eq!(per_minute(config.rate_limits.api_per_minute), 7);

    let refused = Config::from_values([("LATCHKEY_RATE_LIMIT_API_PER_MINUTE", "0")]).unwrap_err();
    assert_eq!(variables(refused), ["LATCHKEY_RATE_LIMIT_API_PER_MINUTE"]);
}

#[test]
fn access_tokens_default_to_ten_minutes_for_the_public_url_and_never_live_past_fifteen() {
    let defaults = Config::from_values([("LATCHKEY_PUBLIC_URL", "http://127.0.0.1:3000/")]).expect("valid");
    assert_eq!(defaults.access_tokens.audience, "http://127.0.0.1:3000", "the public URL as configured");
    assert_eq!(defaults.access_tokens.lifetime, Duration::from_secs(600));
    assert_eq!(defaults.access_tokens.key_rotation, Duration::from_secs(30 * 24 * 3600));

    let config =
        Config::from_values([("LATCHKEY_TOKEN_AUDIENCE", "https://api.example"), ("LATCHKEY_TOKEN_MINUTES", "15")])
            .expect("valid");
    assert_eq!(config.access_tokens.audience, "https://api.example");
    assert_eq!(config.access_tokens.lifetime, Duration::from_secs(900));
    let blank = Config::from_values([("LATCHKEY_TOKEN_AUDIENCE", " ")]).expect("blank is unset, like every setting");
    assert_eq!(blank.access_tokens.audience, defaults.access_tokens.audience);

    for (variable, value) in [
        ("LATCHKEY_TOKEN_MINUTES", "16"),
        ("LATCHKEY_TOKEN_MINUTES", "0"),
        ("LATCHKEY_TOKEN_KEY_ROTATION_DAYS", "366"),
        ("LATCHKEY_TOKEN_KEY_ROTATION_DAYS", "0"),
    ] {
        let refused = Config::from_values([(variable, value)]).unwrap_err();
        assert_eq!(variables(refused), [variable], "{variable}={value}");
    }
}

#[test]
fn admins_are_emails_compared_without_case_and_anything_else_is_named() {
    let config = Config::from_values([("LATCHKEY_ADMINS", "Ops@Example.com, boss@example.com,")]).expect("valid");
    assert_eq!(config.admins, ["ops@example.com", "boss@example.com"]);

    let refused = Config::from_values([("LATCHKEY_ADMINS", "ops@example.com, nobody")]).unwrap_err();
    assert!(refused.to_string().contains("`nobody`"), "{refused}");
    assert_eq!(variables(refused), ["LATCHKEY_ADMINS"]);
}

#[test]
fn trusted_proxies_are_cidrs_or_addresses_and_anything_else_is_named() {
    let config =
        Config::from_values([("LATCHKEY_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7 ,fd00::/8")]).expect("valid");
    let proxies: Vec<String> = config.trusted_proxies.iter().map(ToString::to_string).collect();
    assert_eq!(proxies, ["10.0.0.0/8", "192.168.1.7/32", "fd00::/8"]);

    let refused = Config::from_values([("LATCHKEY_TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal")]).unwrap_err();
    assert!(refused.to_string().contains("`proxy.internal`"), "{refused}");
    assert_eq!(variables(refused), ["LATCHKEY_TRUSTED_PROXIES"]);
}

#[test]
fn previous_secret_keys_are_read_and_a_bad_one_is_named_without_showing_it() {
    let (old, older) = ("11".repeat(32), "22".repeat(32));
    let config = Config::from_values([("LATCHKEY_PREVIOUS_SECRET_KEYS", format!("{old}, {older}"))]).expect("valid");
    assert_eq!(config.previous_secret_keys.len(), 2);
    assert_eq!(config.previous_secret_keys[0].as_bytes(), &[0x11; 32]);

    let refused = Config::from_values([("LATCHKEY_PREVIOUS_SECRET_KEYS", format!("{old},not-a-key"))]).unwrap_err();
    let shown = refused.to_string();
    assert!(shown.contains("key 2") && !shown.contains(&old), "{shown}");
    assert_eq!(variables(refused), ["LATCHKEY_PREVIOUS_SECRET_KEYS"]);
}

#[test]
fn debug_output_never_shows_a_secret_of_the_configuration() {
    let config = Config::from_values([
        ("LATCHKEY_DATABASE_URL", "postgres://latchkey:db-password@db/latchkey"),
        ("LATCHKEY_SECRET_KEY", &"ab".repeat(32)),
        ("LATCHKEY_PREVIOUS_SECRET_KEYS", &"cd".repeat(32)),
        ("LATCHKEY_PROVIDER_X_KIND", "oidc"),
        ("LATCHKEY_PROVIDER_X_ISSUER", "https://sso.example.com"),
        ("LATCHKEY_PROVIDER_X_CLIENT_ID", "abc"),
        ("LATCHKEY_PROVIDER_X_CLIENT_SECRET", "client-secret"),
    ])
    .expect("valid");
    let shown = format!("{config:?}");
    for secret in ["db-password", &"ab".repeat(32), &"cd".repeat(32), "client-secret"] {
        assert!(!shown.contains(secret), "{secret} shown in {shown}");
    }
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// A value a person might type, or anything at all.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[0-9]{0,25}",
            "-?[0-9]{1,4}(\\.[0-9])?",
            "(https?|postgres|sqlite)://[a-z0-9.:@/%-]{0,30}",
            "[0-9a-f]{60,68}(,[0-9a-f]{0,64})?",
            "[0-9./:a-f, ]{0,40}",
            "(true|false|2|yes|no|production|development)",
        ]
    }

    fn name() -> impl Strategy<Value = String> {
        let settings: Vec<String> = SETTINGS.iter().map(|s| s.to_string()).collect();
        let provider = "LATCHKEY_PROVIDER_[A-Z]{1,3}_(KIND|ISSUER|CLIENT_ID|CLIENT_SECRET|NAME|SCOPES|TENANT|HOSTED_DOMAIN|TRUST_EMAIL|API_URL|AUTHORIZE_URL|TOKEN_URL)";
        prop_oneof![proptest::sample::select(settings), provider.prop_map(|s| s), Just("LEPTOS_SITE_ADDR".to_string())]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any configuration is either a valid one or a list of problems, each naming a variable.
        #[test]
        fn no_configuration_makes_start_up_panic(values in proptest::collection::vec((name(), value()), 0..12)) {
            match Config::from_values(values) {
                Ok(config) => prop_assert!(config.public_url.scheme().starts_with("http")),
                Err(error) => prop_assert!(error.problems.iter().all(|p| !p.variable.is_empty())),
            }
        }

        #[test]
        fn no_config_file_makes_start_up_panic(text in prop_oneof![any::<String>(), "([a-z_]{1,12} = (\"[^\"]{0,10}\"|[0-9]{1,3}|true)\n|\\[provider\\.[a-z]{1,5}\\]\n){0,6}"]) {
            if let Ok(values) = flatten_toml(&text) {
                let _ = Config::from_values(values);
            }
        }
    }
}
