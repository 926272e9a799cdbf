// Sends the chosen file straight to vidproc with tus-js-client: this site's view creates a
// single-use direct upload (with the API token, on the server) and answers its URL; the browser
// uses it as the tus endpoint without any Authorization header, then goes to the video's page.
(function () {
  'use strict';
  const form = document.getElementById('upload-form');
  const fileInput = document.getElementById('file');
  const button = document.getElementById('upload-button');
  const progress = document.getElementById('upload-progress');
  const message = document.getElementById('upload-message');

  function say(text) { message.textContent = text; }

  async function createDirectUpload(file) {
    const response = await fetch(form.action, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'Content-Type': 'application/json',
        'X-CSRFToken': form.querySelector('[name=csrfmiddlewaretoken]').value,
      },
      body: JSON.stringify({ title: form.elements.title.value, filename: file.name, size: file.size }),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error || `the site answered ${response.status}`);
    return answer;
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    if (!file) { say('Choose a video file first.'); return; }
    button.disabled = true;
    say('Preparing the upload…');
    let target;
    try {
      target = await createDirectUpload(file);
    } catch (e) {
      say(`Could not start the upload: ${e.message}`);
      button.disabled = false;
      return;
    }
    progress.hidden = false;
    const upload = new tus.Upload(file, {
      endpoint: target.upload_url,
      metadata: { filename: file.name, filetype: file.type || 'application/octet-stream' },
      chunkSize: 8 * 1024 * 1024,
      retryDelays: [0, 1000, 3000, 5000],
      removeFingerprintOnSuccess: true,
      onProgress(sent, total) {
        progress.value = total ? sent / total : 0;
        say(`Uploading… ${Math.floor((100 * sent) / (total || 1))} %`);
      },
      onError(error) {
        say(`The upload failed: ${error.message}`);
        button.disabled = false;
      },
      onSuccess() {
        say('Uploaded. Processing…');
        window.location.assign(target.video_page);
      },
    });
    upload.start();
  });
})();
