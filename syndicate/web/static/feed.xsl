<?xml version="1.0" encoding="utf-8"?>
<!-- Shows an RSS or Atom feed as a German page when someone opens it in a browser; feed readers ignore it. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:atom="http://www.w3.org/2005/Atom">
<xsl:output method="html" encoding="utf-8" doctype-system="about:legacy-compat"/>
<xsl:variable name="title" select="/rss/channel/title | /atom:feed/atom:title"/>
<xsl:variable name="self" select="/rss/channel/atom:link[@rel='self']/@href | /atom:feed/atom:link[@rel='self']/@href"/>
<xsl:template match="/">
<html lang="de">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title><xsl:value-of select="$title"/> (Feed)</title>
<link rel="stylesheet" href="/static/portal.css"/>
</head>
<body>
<a class="skip" href="#inhalt">Zum Inhalt springen</a>
<header class="site"><div class="wrap">
<a class="brand" href="/">Kommunaler Feed-Verbund Bayern</a>
<nav aria-label="Hauptnavigation"><ul><li><a href="/">Startseite</a></li><li><a href="/suche">Suche</a></li><li><a href="/abonnieren">Abonnieren</a></li></ul></nav>
</div></header>
<main id="inhalt" class="wrap" tabindex="-1">
<h1><xsl:value-of select="$title"/></h1>
<p class="notice">Dies ist ein Feed – eine Adresse für Feedreader. Ein Feedreader (zum Beispiel Feedly, Inoreader oder Thunderbird) holt neue Meldungen von hier automatisch ab. Zum Abonnieren kopieren Sie diese Adresse und fügen sie in Ihrem Feedreader ein:</p>
<p><code><xsl:value-of select="$self"/></code></p>
<p><a href="/abonnieren">Mehr über Feeds und alle Feeds im Überblick</a></p>
<h2>Neueste Meldungen in diesem Feed</h2>
<ol class="stories">
<xsl:for-each select="/rss/channel/item">
<li class="story"><h3 class="story-title"><a href="{guid}"><xsl:value-of select="title"/></a></h3>
<p class="meta"><xsl:value-of select="pubDate"/> · <xsl:value-of select="source"/></p></li>
</xsl:for-each>
<xsl:for-each select="/atom:feed/atom:entry">
<li class="story"><h3 class="story-title"><a href="{atom:id}"><xsl:value-of select="atom:title"/></a></h3>
<p class="meta"><xsl:value-of select="substring(atom:published, 1, 10)"/> · <xsl:value-of select="atom:author/atom:name"/></p>
<p><xsl:value-of select="atom:summary"/></p></li>
</xsl:for-each>
</ol>
</main>
<footer class="site"><div class="wrap"><p>Meldungen bayerischer Kommunen und Partner, zusammengeführt.</p></div></footer>
</body>
</html>
</xsl:template>
</xsl:stylesheet>
