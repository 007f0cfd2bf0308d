// The family app's FCM receiver (Android only; the Python side is mobile/common/platform.py).
//
// FCM hands a push to this service even when the app is closed. The service appends the
// push's data as one JSON line to files/parta-pushes.jsonl and tells a running app so by a
// broadcast. The app (AndroidPlatform.listen_pushes) takes the file's lines when it starts and
// on each broadcast, and confirms each push to the server (POST /api/v1/messaging/push-receipts)
// with the same Python code the desktop tests run with a simulated push.
package ru.parta.partafamily;

import android.content.Intent;

import com.google.firebase.messaging.FirebaseMessagingService;
import com.google.firebase.messaging.RemoteMessage;

import org.json.JSONObject;

import java.io.File;
import java.io.FileOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

public class PushService extends FirebaseMessagingService {
    public static final String ACTION = "ru.parta.partafamily.PUSH";
    public static final String FILE = "parta-pushes.jsonl";

    @Override
    public void onMessageReceived(RemoteMessage message) {
        Map<String, String> data = message.getData();
        JSONObject line = new JSONObject(data);
        synchronized (PushService.class) {
            try (FileOutputStream out = new FileOutputStream(new File(getFilesDir(), FILE), true)) {
                out.write((line.toString() + "\n").getBytes(StandardCharsets.UTF_8));
            } catch (java.io.IOException e) {
                // Nothing to do: the receipt is lost and the server may push once more after a
                // crash of its own (decision 0502).
            }
        }
        Intent intent = new Intent(ACTION);
        intent.setPackage(getPackageName());
        sendBroadcast(intent);
    }

    @Override
    public void onNewToken(String token) {
        // The app registers the current token each time it starts (register_push); a token
        // renewed while it is closed is registered at the next start.
    }
}
