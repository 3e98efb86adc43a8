//! The acquisition channel of a visit: Google Analytics 4's default channel group
//! (<https://support.google.com/analytics/answer/9756891>), its rules applied in GA4's order,
//! first match wins, to the visit's source, medium and campaign (lowercase). The sites each
//! rule names are [`super::sources`].

use super::sources::{Category, category};

/// Where a visit came from, as GA4 names it: `source` is `utm_source`, else the referrer's
/// domain, else `(direct)`; `medium` is `utm_medium`, else `organic` for a search engine and
/// `referral` for another site, else `(none)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Visit<'a> {
    pub(crate) source: &'a str,
    pub(crate) medium: &'a str,
    pub(crate) campaign: &'a str,
}

/// Kept as one piece: GA4's rules in its order, one line each.
pub(crate) fn channel(visit: Visit<'_>) -> &'static str {
    let Visit {
        source,
        medium,
        campaign,
    } = visit;
    let site = category(source);
    let paid = paid_medium(medium);
    let shopping = site == Some(Category::Shopping) || shopping_campaign(campaign);
    if source == "(direct)" && matches!(medium, "(none)" | "(not set)") {
        "Direct"
    } else if campaign.contains("cross-network") {
        "Cross-network"
    } else if shopping && paid {
        "Paid Shopping"
    } else if site == Some(Category::Search) && paid {
        "Paid Search"
    } else if site == Some(Category::Social) && paid {
        "Paid Social"
    } else if site == Some(Category::Video) && paid {
        "Paid Video"
    } else if matches!(
        medium,
        "display" | "banner" | "expandable" | "interstitial" | "cpm"
    ) {
        "Display"
    } else if paid {
        "Paid Other"
    } else if shopping {
        "Organic Shopping"
    } else if site == Some(Category::Social)
        || matches!(
            medium,
            "social" | "social-network" | "social-media" | "sm" | "social network" | "social media"
        )
    {
        "Organic Social"
    } else if site == Some(Category::Video) || medium.contains("video") {
        "Organic Video"
    } else if site == Some(Category::Search) || medium == "organic" {
        "Organic Search"
    } else if site == Some(Category::Email) || email(source) || email(medium) {
        "Email"
    } else if medium == "affiliate" {
        "Affiliates"
    } else if matches!(medium, "referral" | "app" | "link") {
        "Referral"
    } else if medium == "audio" {
        "Audio"
    } else if source == "sms" || medium == "sms" {
        "SMS"
    } else if medium.ends_with("push")
        || medium.contains("mobile")
        || medium.contains("notification")
        || source == "firebase"
    {
        "Mobile Push Notifications"
    } else {
        "Unassigned"
    }
}

/// GA4's paid media: `^(.*cp.*|ppc|retargeting|paid.*)$`.
fn paid_medium(medium: &str) -> bool {
    medium.contains("cp")
        || medium == "ppc"
        || medium == "retargeting"
        || medium.starts_with("paid")
}

/// GA4's shopping campaigns: `^(.*(([^a-df-z]|^)shop|shopping).*)$`, a `shop` at the start,
/// after a non-letter or after an `e` (`eshop`), or `shopping` anywhere.
fn shopping_campaign(campaign: &str) -> bool {
    campaign.contains("shopping")
        || campaign.match_indices("shop").any(|(at, _)| {
            campaign[..at]
                .chars()
                .next_back()
                .is_none_or(|before| before == 'e' || !before.is_ascii_lowercase())
        })
}

/// GA4's email source or medium.
fn email(text: &str) -> bool {
    matches!(text, "email" | "e-mail" | "e_mail" | "e mail")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(source: &str, medium: &str, campaign: &str) -> &'static str {
        channel(Visit {
            source,
            medium,
            campaign,
        })
    }

    #[test]
    fn ga4_rules_group_visits_in_their_order() {
        let cases = [
            (("(direct)", "(none)", ""), "Direct"),
            (("google", "cpc", "pmax-cross-network"), "Cross-network"),
            (("google", "cpc", "summer_shopping"), "Paid Shopping"),
            (("amazon", "ppc", ""), "Paid Shopping"),
            (("google", "cpc", ""), "Paid Search"),
            (("www.bing.com", "paid-search", ""), "Paid Search"),
            (("facebook", "cpc", ""), "Paid Social"),
            (("l.instagram.com", "paid_social", ""), "Paid Social"),
            (("youtube", "retargeting", ""), "Paid Video"),
            (("adnetwork", "display", ""), "Display"),
            (("adnetwork", "cpm", ""), "Display"),
            (("newsletter", "cpc", ""), "Paid Other"),
            (("partner", "referral", "eshop-week"), "Organic Shopping"),
            (("www.ebay.de", "referral", ""), "Organic Shopping"),
            (("news.ycombinator.com", "referral", ""), "Organic Social"),
            (("t.co", "referral", ""), "Organic Social"),
            (("mastodon", "social", ""), "Organic Social"),
            (("partner", "sm", ""), "Organic Social"),
            (("m.youtube.com", "referral", ""), "Organic Video"),
            (("partner", "video-ads-free", ""), "Organic Video"),
            (("www.google.com", "organic", ""), "Organic Search"),
            (("duckduckgo.com", "organic", ""), "Organic Search"),
            (("partner", "organic", ""), "Organic Search"),
            (("newsletter", "email", "november"), "Email"),
            (("mail.google.com", "referral", ""), "Email"),
            (("e-mail", "(not set)", ""), "Email"),
            (("partner", "affiliate", ""), "Affiliates"),
            (("blog.example.org", "referral", ""), "Referral"),
            (("partner", "link", ""), "Referral"),
            (("podcast", "audio", ""), "Audio"),
            (("sms", "(not set)", ""), "SMS"),
            (("app", "web-push", ""), "Mobile Push Notifications"),
            (("firebase", "(not set)", ""), "Mobile Push Notifications"),
            (("partner", "banner-exchange", ""), "Unassigned"),
            (("(direct)", "qr", ""), "Unassigned"),
        ];
        for ((source, medium, campaign), expected) in cases {
            assert_eq!(
                of(source, medium, campaign),
                expected,
                "{source} / {medium} / {campaign}"
            );
        }
    }

    #[test]
    fn shop_counts_only_as_a_word_start_or_after_an_e() {
        assert!(shopping_campaign("shop-launch"));
        assert!(shopping_campaign("black_friday_shop"));
        assert!(shopping_campaign("eshop"));
        assert!(shopping_campaign("window-shopping"));
        assert!(!shopping_campaign("workshop"));
        assert!(!shopping_campaign("bishop"));
    }
}
