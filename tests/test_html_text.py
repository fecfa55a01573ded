from qabot.documents.html_text import html_to_text


def test_html_links_keep_urls():
    title, text = html_to_text('<p>See <a href="https://x.example/">the site</a>.</p>')
    assert title == ""
    assert text == "See the site (https://x.example/)."


def test_a_link_whose_text_is_its_url_is_not_repeated():
    _, text = html_to_text('<p><a href="https://x.example/">https://x.example/</a></p>')
    assert text == "https://x.example/"
    _, text = html_to_text('<p><a href="/local">home</a></p>')
    assert text == "home"  # only absolute links are worth keeping


def test_blocks_headings_and_skipped_tags():
    html = (
        "<html><head><title> My\n page </title><style>p {}</style></head><body>"
        "<h2>Part   one</h2><p>First <b>bold</b> text.</p><div>Second</div>"
        "<script>var x = 1;</script><noscript>enable js</noscript><ul><li>a</li><li>b</li></ul>"
        "</body></html>"
    )
    title, text = html_to_text(html)
    assert title == "My page"
    assert text.split("\n\n") == ["## Part one", "First bold text.", "Second", "a", "b"]


def test_title_falls_back_to_the_first_h1():
    assert html_to_text("<h1>Garden &amp; home</h1><p>Body.</p>") == (
        "Garden & home",
        "# Garden & home\n\nBody.",
    )
