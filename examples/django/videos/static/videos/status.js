// A video that is still uploading or processing: ask this site for its status every 2 s and reload
// the page when the webhook has changed it (the page then shows the player or the error).
(function () {
  'use strict';
  const article = document.getElementById('video');
  const shown = article.dataset.status;
  async function poll() {
    try {
      const response = await fetch(article.dataset.statusUrl, { credentials: 'same-origin', cache: 'no-store' });
      if (response.ok) {
        const { status } = await response.json();
        if (status !== shown) { window.location.reload(); return; }
      }
    } catch (e) { /* the next poll tries again */ }
    setTimeout(poll, 2000);
  }
  setTimeout(poll, 2000);
})();
