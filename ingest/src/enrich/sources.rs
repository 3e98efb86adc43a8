//! What kind of site a traffic source is: search engine, social network, video, shopping or
//! webmail. The table is a compact selection of Google Analytics 4's source categories (the
//! "source category" list behind GA4's default channel group,
//! <https://support.google.com/analytics/answer/9756891>, as Plausible keeps it in
//! `priv/ga4-source-categories.csv`, <https://github.com/plausible/analytics>): the sites
//! that send real traffic, by brand (`google` stands for `www.google.de`, `google.co.uk`, …)
//! or by host where a brand's hosts differ (`mail.google.com` is webmail, `news.ycombinator.com`
//! social). Webmail hosts are Plausible's addition (its `gmail`), GA4 has no such category.

/// The kind of site a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    Search,
    Social,
    Video,
    Shopping,
    Email,
}

/// The category of `source`: a host (`l.facebook.com`), a referrer domain, or a name as
/// `utm_source` gives it (`google`, `fb`); lowercase. The host itself is looked up, then each
/// domain above it, then its brand (the label before the public suffix).
pub(crate) fn category(source: &str) -> Option<Category> {
    let mut candidate = source.trim_end_matches('.');
    loop {
        if let Some(category) = listed(candidate) {
            return Some(category);
        }
        match candidate.split_once('.') {
            Some((_, parent)) if parent.contains('.') => candidate = parent,
            _ => break,
        }
    }
    brand(source).and_then(listed)
}

/// The label before the public suffix: `google` of `www.google.co.uk` and of `google.de`.
/// Two-label suffixes are recognised by their shape (`co.uk`, `com.au`, `ne.jp`: a short
/// generic label before a country code), which is all a brand lookup needs.
fn brand(host: &str) -> Option<&str> {
    let labels: Vec<&str> = host.trim_end_matches('.').split('.').collect();
    let n = labels.len();
    if n < 2 {
        return None;
    }
    let two_level = n >= 3
        && labels[n - 1].len() == 2
        && matches!(
            labels[n - 2],
            "co" | "com" | "net" | "org" | "gov" | "ac" | "edu" | "ne" | "or" | "go"
        );
    Some(if two_level {
        labels[n - 3]
    } else {
        labels[n - 2]
    })
}

/// Kept as one piece: the table itself, one arm per category.
fn listed(name: &str) -> Option<Category> {
    Some(match name {
        // Webmail first: these hosts sit under brands listed as search engines.
        "mail.google.com"
        | "gmail"
        | "outlook.live.com"
        | "outlook.office.com"
        | "outlook.office365.com"
        | "mail.yahoo.com"
        | "mail.proton.me"
        | "mail.aol.com"
        | "webmail" => Category::Email,
        // Hosts of search brands that GA4 files elsewhere.
        "answers.yahoo.com" | "groups.google.com" | "sites.google.com" | "plus.google.com"
        | "blog.naver.com" | "cafe.naver.com" | "kin.naver.com" => Category::Social,
        "shopping.yahoo.com" | "shopping.naver.com" | "shopping.google.com" | "google shopping" => {
            Category::Shopping
        }
        "music.youtube.com" | "blog.twitch.tv" => Category::Video,
        "360.cn" | "alice" | "aol" | "ask" | "auone" | "avg" | "baidu" | "biglobe" | "bing"
        | "brave" | "centrum" | "cnn" | "comcast" | "daum" | "dogpile" | "duckduckgo"
        | "ecosia" | "eniro" | "exalead" | "excite" | "firmy" | "globo" | "go.mail.ru"
        | "google" | "google-play" | "incredimail" | "kvasir" | "lycos" | "msn" | "najdi"
        | "naver" | "onet" | "qwant" | "rakuten" | "rambler" | "search-results"
        | "search.brave.com" | "seznam" | "so.com" | "sogou" | "startpage" | "startsiden"
        | "terra" | "tut.by" | "ukr" | "virgilio" | "yahoo" | "yandex" => Category::Search,
        "facebook"
        | "fb"
        | "fb.me"
        | "instagram"
        | "ig"
        | "twitter"
        | "t.co"
        | "x.com"
        | "linkedin"
        | "lnkd.in"
        | "reddit"
        | "pinterest"
        | "tiktok"
        | "snapchat"
        | "tumblr"
        | "quora"
        | "vk"
        | "vk.com"
        | "vkontakte"
        | "odnoklassniki"
        | "ok.ru"
        | "weibo"
        | "wechat"
        | "whatsapp"
        | "messenger"
        | "telegram"
        | "t.me"
        | "discord"
        | "slack"
        | "threads"
        | "threads.net"
        | "bsky.app"
        | "bluesky"
        | "mastodon"
        | "mastodon.social"
        | "news.ycombinator.com"
        | "hacker news"
        | "producthunt"
        | "github"
        | "medium"
        | "medium.com"
        | "line"
        | "line.me"
        | "kakao"
        | "xing"
        | "meetup"
        | "stackoverflow"
        | "stackexchange"
        | "superuser"
        | "serverfault"
        | "askubuntu"
        | "slashdot"
        | "flickr"
        | "yelp"
        | "tripadvisor"
        | "trustpilot"
        | "goodreads"
        | "deviantart"
        | "disqus"
        | "digg"
        | "flipboard"
        | "getpocket.com"
        | "mix.com"
        | "blogger"
        | "blogspot"
        | "wordpress"
        | "livejournal"
        | "douban"
        | "renren"
        | "qzone.qq.com"
        | "tencent"
        | "zalo"
        | "mixi.jp"
        | "ameblo.jp"
        | "hatena"
        | "b.hatena.ne.jp"
        | "skype"
        | "yammer"
        | "tweetdeck"
        | "hootsuite"
        | "buzzfeed"
        | "scribd"
        | "slideshare.net"
        | "researchgate.net"
        | "academia.edu"
        | "glassdoor"
        | "fandom.com"
        | "wattpad"
        | "houzz"
        | "foursquare"
        | "bit.ly"
        | "tinyurl"
        | "paper.li"
        | "smartnews.com"
        | "techmeme"
        | "social" => Category::Social,
        "youtube" | "youtu.be" | "vimeo" | "twitch" | "twitch.tv" | "dailymotion" | "netflix"
        | "hulu" | "disneyplus" | "wistia" | "iqiyi" | "youku" | "ted" | "ted.com" | "crackle"
        | "curiositystream" | "veoh" | "utreon" | "d.tube" => Category::Video,
        "amazon"
        | "ebay"
        | "etsy"
        | "shopify"
        | "shop.app"
        | "alibaba"
        | "walmart"
        | "mercadolibre"
        | "stripe"
        | "checkout.stripe.com"
        | "shopzilla"
        | "igshopping"
        | "simplycodes.com" => Category::Shopping,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parents_and_brands_find_their_category() {
        let cases = [
            ("google", Some(Category::Search)),
            ("www.google.com", Some(Category::Search)),
            ("www.google.co.uk", Some(Category::Search)),
            ("google.de", Some(Category::Search)),
            ("search.yahoo.com", Some(Category::Search)),
            ("mail.google.com", Some(Category::Email)),
            ("answers.yahoo.com", Some(Category::Social)),
            ("l.facebook.com", Some(Category::Social)),
            ("t.co", Some(Category::Social)),
            ("news.ycombinator.com", Some(Category::Social)),
            ("m.youtube.com", Some(Category::Video)),
            ("music.youtube.com", Some(Category::Video)),
            ("www.amazon.co.jp", Some(Category::Shopping)),
            ("blog.example.org", None),
            ("co.uk", None),
            ("", None),
        ];
        for (source, expected) in cases {
            assert_eq!(category(source), expected, "{source}");
        }
    }
}
